package main

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hopwire/hopwire/cmd/internal/manager"
	"github.com/hopwire/hopwire/wire"
)

// TCP portals: an outlet on one node connects to a TCP server; an inlet
// on another listens for TCP clients and carries each connection along a
// route to the outlet, bytes unchanged.

func newOutletCmd() *cobra.Command {
	var at, from, to string
	create := &cobra.Command{
		Use:   "create --at NODE --from /service/NAME --to HOST:PORT",
		Short: "Start a TCP outlet: each portal session to it connects to HOST:PORT",
		Long: `Start a TCP outlet on NODE at /service/NAME (default /service/outlet). Every
portal session an inlet opens to it connects to HOST:PORT and carries the
bytes both ways, unchanged. The outlet is a service: reachable through the
node's listeners and relays.`,
		Example: `  hopwire tcp-outlet create --at n3 --from /service/outlet --to 127.0.0.1:9000`,
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if to == "" {
				return usagef("%s needs --to HOST:PORT", c.CommandPath())
			}
			if _, _, err := net.SplitHostPort(to); err != nil {
				return usagef("--to %q: want HOST:PORT", to)
			}
			name := strings.TrimPrefix(from, "/service/")
			return withManager(c, nodeName(at), func(cl *manager.Client) error {
				info, err := cl.CreateOutlet(name, to)
				if err != nil {
					return err
				}
				return emit(c.OutOrStdout(), info, func(w io.Writer) {
					fmt.Fprintf(w, "/service/%s\n", name)
				})
			})
		},
	}
	create.Flags().StringVar(&from, "from", "/service/outlet", "the outlet's address on the node")
	create.Flags().StringVar(&to, "to", "", "the TCP server it connects to, HOST:PORT")
	list := &cobra.Command{
		Use: "list --at NODE", Short: "List a node's TCP outlets", Args: noArgs,
		Example: `  hopwire tcp-outlet list --at n3`,
		RunE: func(c *cobra.Command, _ []string) error {
			return withManager(c, nodeName(at), func(cl *manager.Client) error {
				ps, err := cl.ListOutlets()
				if err != nil {
					return err
				}
				return emit(c.OutOrStdout(), ps, func(w io.Writer) { printPortals(w, ps) })
			})
		},
	}
	del := &cobra.Command{
		Use: "delete /service/NAME --at NODE", Short: "Stop a TCP outlet", Args: exactArgs(1, "the outlet's /service/NAME"),
		Example: `  hopwire tcp-outlet delete /service/outlet --at n3`,
		RunE: func(c *cobra.Command, args []string) error {
			name := strings.TrimPrefix(args[0], "/service/")
			return withManager(c, nodeName(at), func(cl *manager.Client) error {
				if err := cl.DeleteOutlet(name); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "TCP outlet /service/%s deleted from node %s\n", name, nodeName(at))
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{create, list, del} {
		atFlag(c, &at, "the node")
	}
	return group("tcp-outlet", "Create, list and delete TCP outlets (the server end of a portal)", create, list, del)
}

func newInletCmd() *cobra.Command {
	var at, from, to, compress string
	create := &cobra.Command{
		Use:   "create --at NODE --from HOST:PORT --to ROUTE",
		Short: "Start a TCP inlet: each connection to HOST:PORT is carried along ROUTE to an outlet",
		Long: `Start a TCP inlet on NODE listening on HOST:PORT. Each TCP connection it
accepts opens a portal session along ROUTE (a multiaddr from NODE, ending
at an outlet) and carries the bytes both ways, unchanged, half-close
included. If the outlet cannot reach its server, or the route does not
answer within 5s, the connection is closed at once and the reason logged.
With --compress each session compresses its stream both ways (text
protocols over a slow link carry several times more).`,
		Example: `  hopwire tcp-inlet create --at n1 --from 127.0.0.1:6000 --to /node/n3/service/outlet
  hopwire tcp-inlet create --at n1 --from 127.0.0.1:6380 --to /node/n3/service/redis --compress s2
  hopwire tcp-inlet create --at n1 --from 127.0.0.1:6000 --to /worker/<hex>/service/forward_to_n3/service/outlet`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return usagef("%s needs --from HOST:PORT and --to ROUTE", c.CommandPath())
			}
			if _, err := wire.ParseCodec(compress); err != nil {
				return usagef("--compress: %v", err)
			}
			if compress == "off" {
				compress = ""
			}
			if _, _, err := net.SplitHostPort(from); err != nil {
				return usagef("--from %q: want HOST:PORT", from)
			}
			route, err := resolveRoute(to)
			if err != nil {
				return err
			}
			return withManager(c, nodeName(at), func(cl *manager.Client) error {
				info, err := cl.CreateInlet(from, route.String(), compress)
				if err != nil {
					return err
				}
				return emit(c.OutOrStdout(), info, func(w io.Writer) { fmt.Fprintln(w, info.Listen) })
			})
		},
	}
	create.Flags().StringVar(&from, "from", "", "where the inlet listens, HOST:PORT (port 0 picks a free one)")
	create.Flags().StringVar(&to, "to", "", "the route to the outlet, a multiaddr")
	create.Flags().StringVar(&compress, "compress", "off", "compress each session's stream both ways (the outlet follows): s2 (fast), zstd (denser) or off; for text protocols over a slow link")
	list := &cobra.Command{
		Use: "list --at NODE", Short: "List a node's TCP inlets", Args: noArgs,
		Example: `  hopwire tcp-inlet list --at n1`,
		RunE: func(c *cobra.Command, _ []string) error {
			return withManager(c, nodeName(at), func(cl *manager.Client) error {
				ps, err := cl.ListInlets()
				if err != nil {
					return err
				}
				return emit(c.OutOrStdout(), ps, func(w io.Writer) { printPortals(w, ps) })
			})
		},
	}
	del := &cobra.Command{
		Use: "delete HOST:PORT --at NODE", Short: "Close a TCP inlet", Args: exactArgs(1, "the inlet's HOST:PORT"),
		Example: `  hopwire tcp-inlet delete 127.0.0.1:6000 --at n1`,
		RunE: func(c *cobra.Command, args []string) error {
			return withManager(c, nodeName(at), func(cl *manager.Client) error {
				if err := cl.DeleteInlet(args[0]); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "TCP inlet on %s deleted from node %s\n", args[0], nodeName(at))
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{create, list, del} {
		atFlag(c, &at, "the node")
	}
	return group("tcp-inlet", "Create, list and delete TCP inlets (the client end of a portal)", create, list, del)
}

func printPortals(w io.Writer, ps []manager.PortalInfo) {
	rows := make([][]string, len(ps))
	for i, p := range ps {
		where, what := p.Listen, p.Route
		if p.Kind == "outlet" {
			where, what = "/service/"+p.Name, p.Target
		}
		compress := p.Compress
		if compress == "" {
			compress = "-"
		}
		rows[i] = []string{where, what, strconv.FormatUint(p.Open, 10), strconv.FormatUint(p.Sessions, 10),
			strconv.FormatUint(p.BytesIn, 10), strconv.FormatUint(p.BytesOut, 10), strconv.FormatUint(p.Failed, 10), strconv.FormatUint(p.Resets, 10),
			compress, strconv.FormatUint(p.SavedIn+p.SavedOut, 10)}
	}
	table(w, []string{"AT", "TO", "OPEN", "SESSIONS", "BYTES IN", "BYTES OUT", "FAILED", "RESETS", "COMPRESS", "SAVED"}, rows)
}
