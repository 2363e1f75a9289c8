package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hopwire/hopwire/cmd/internal/manager"
)

func newRelayCmd() *cobra.Command {
	return group("relay", "Make a node reachable through a relay node it connects out to",
		newRelayCreate(), newRelayList(), newRelayShow(), newRelayDelete())
}

// nodeName takes NODE or /node/NODE.
func nodeName(s string) string { return strings.TrimPrefix(s, "/node/") }

func newRelayCreate() *cobra.Command {
	var at, to string
	var allow []string
	cmd := &cobra.Command{
		Use:   "create NAME --at RELAY-NODE --to NODE",
		Short: "Register NODE at a relay node, which then forwards /service/forward_to_NAME to it",
		Long: `Register NODE at the relay node RELAY-NODE (a multiaddr: /node/n2, or
/ip4/HOST/tcp/PORT) under NAME. NODE connects out to the relay node, so it
needs no listener of its own; the relay node then forwards what reaches
/service/forward_to_NAME to NODE's services (or only to those --allow names).
NODE checks the path every second, and reconnects and registers again by
itself if it breaks (a relay node restart included). The forwarding address
is printed.`,
		Example: `  hopwire relay create n3 --at /node/n2 --to /node/n3
  hopwire relay create n3 --at /ip4/127.0.0.1/tcp/7000 --to n3 --allow echo`,
		Args: exactArgs(1, "a relay NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			if at == "" || to == "" {
				return usagef("%s needs --at RELAY-NODE and --to NODE", c.CommandPath())
			}
			r, err := resolveRoute(at)
			if err != nil {
				return err
			}
			if len(r) != 1 || r[0].IsLocal() {
				return usagef("--at %q: want the relay node's address (/node/NAME or /ip4/HOST/tcp/PORT), one transport hop", at)
			}
			return withManager(c, nodeName(to), func(cl *manager.Client) error {
				info, err := cl.CreateRelay(args[0], r[0].String(), allow)
				if err != nil {
					return err
				}
				return emit(c.OutOrStdout(), info, func(w io.Writer) {
					fmt.Fprintln(w, strings.TrimSuffix(at, "/")+"/service/"+info.Forward)
				})
			})
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "the relay node: /node/NAME or /ip4/HOST/tcp/PORT")
	cmd.Flags().StringVar(&to, "to", "", "the node to make reachable: NAME or /node/NAME")
	cmd.Flags().StringArrayVar(&allow, "allow", nil, "a service the relay's traffic may reach (repeatable; default: every service of the node)")
	return cmd
}

func newRelayList() *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:     "list --at NODE",
		Short:   "List a node's relays, and the relays it hosts",
		Example: `  hopwire relay list --at n3`,
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withManager(c, nodeName(at), func(cl *manager.Client) error {
				rs, err := cl.ListRelays()
				if err != nil {
					return err
				}
				return emit(c.OutOrStdout(), rs, func(w io.Writer) { printRelays(w, rs) })
			})
		},
	}
	atFlag(cmd, &at, "the node")
	return cmd
}

func printRelays(w io.Writer, rs []manager.RelayInfo) {
	rows := make([][]string, len(rs))
	for i, r := range rs {
		at, role := r.At, "registered"
		if r.Hosted {
			at, role = "(this node)", "hosted"
		}
		rows[i] = []string{r.Name, role, "/service/" + r.Forward, at, r.State, dash(r.LastError)}
	}
	table(w, []string{"NAME", "ROLE", "FORWARD", "AT", "STATE", "LAST FAILURE"}, rows)
}

func newRelayShow() *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:     "show NAME --at NODE",
		Short:   "Show one of a node's relays: its state and last failure",
		Example: `  hopwire relay show n3 --at n3`,
		Args:    exactArgs(1, "a relay NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return withManager(c, nodeName(at), func(cl *manager.Client) error {
				rs, err := cl.ListRelays()
				if err != nil {
					return err
				}
				for _, r := range rs {
					if r.Name == args[0] && !r.Hosted {
						return emit(c.OutOrStdout(), r, func(w io.Writer) {
							fmt.Fprintf(w, "Relay %s: %s since %s\n  forward: /service/%s at %s\n  last failure: %s\n",
								r.Name, r.State, r.Since.Local().Format("2006-01-02 15:04:05"), r.Forward, r.At, dash(r.LastError))
						})
					}
				}
				return fmt.Errorf("no relay %s on node %s (hopwire relay list --at %s)", args[0], nodeName(at), nodeName(at))
			})
		},
	}
	atFlag(cmd, &at, "the node")
	return cmd
}

func newRelayDelete() *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:     "delete NAME --at NODE",
		Short:   "Close a node's relay",
		Example: `  hopwire relay delete n3 --at n3`,
		Args:    exactArgs(1, "a relay NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return withManager(c, nodeName(at), func(cl *manager.Client) error {
				if err := cl.DeleteRelay(args[0]); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "Relay %s deleted from node %s\n", args[0], nodeName(at))
				return nil
			})
		},
	}
	atFlag(cmd, &at, "the node")
	return cmd
}
