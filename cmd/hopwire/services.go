package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hopwire/hopwire/cmd/internal/manager"
)

// The commands below are a node manager's clients: each names its node
// with --at (or --from), dials its manager and makes one request.

// atFlag adds the --at NODE flag every managed command has.
func atFlag(c *cobra.Command, at *string, what string) {
	c.Flags().StringVar(at, "at", "", what)
}

// withManager runs f with a client of the --at node's manager.
func withManager(c *cobra.Command, at string, f func(*manager.Client) error) error {
	if at == "" {
		return usagef("%s needs --at NODE", c.CommandPath())
	}
	cl, err := dialManager(at)
	if err != nil {
		return err
	}
	defer cl.Close()
	return f(cl)
}

func newServiceCmd() *cobra.Command {
	return group("service", "Start, list and stop services on a node",
		newServiceStart(), newServiceList(), newServiceStop())
}

func newServiceStart() *cobra.Command {
	var at, addr string
	cmd := &cobra.Command{
		Use:   "start hop|echo|uppercase --at NODE",
		Short: "Start a service on a node, reachable through its listeners",
		Long: `Start a service on a node, at /service/NAME (NAME is --addr, by default the
service's kind). Services are public: reachable through every listener of
the node. A hop passes a message on to the next address of its route.`,
		Example: `  hopwire service start hop --at n1
  hopwire service start echo --addr echo2 --at n1`,
		Args: exactArgs(1, "a service kind (hop, echo or uppercase)"),
		RunE: func(c *cobra.Command, args []string) error {
			name := addr
			if name == "" {
				name = args[0]
			}
			return withManager(c, at, func(cl *manager.Client) error {
				if err := cl.StartService(args[0], name); err != nil {
					return err
				}
				return emit(c.OutOrStdout(), manager.ServiceInfo{Name: name, Kind: args[0]}, func(w io.Writer) {
					fmt.Fprintf(w, "Service %s started at /service/%s on node %s\n", args[0], name, at)
				})
			})
		},
	}
	atFlag(cmd, &at, "the node to start it on")
	cmd.Flags().StringVar(&addr, "addr", "", "the service's name on the node (default: its kind)")
	return cmd
}

func newServiceList() *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:     "list --at NODE",
		Short:   "List a node's services",
		Example: `  hopwire service list --at n1`,
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withManager(c, at, func(cl *manager.Client) error {
				svcs, err := cl.ListServices()
				if err != nil {
					return err
				}
				return emit(c.OutOrStdout(), svcs, func(w io.Writer) { printServices(w, svcs) })
			})
		},
	}
	atFlag(cmd, &at, "the node")
	return cmd
}

func printServices(w io.Writer, svcs []manager.ServiceInfo) {
	rows := make([][]string, len(svcs))
	for i, s := range svcs {
		rows[i] = []string{"/service/" + s.Name, s.Kind}
	}
	table(w, []string{"ADDRESS", "KIND"}, rows)
}

func newServiceStop() *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:     "stop NAME --at NODE",
		Short:   "Stop a service",
		Example: `  hopwire service stop hop --at n1`,
		Args:    exactArgs(1, "the service's NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			name := strings.TrimPrefix(args[0], "/service/")
			return withManager(c, at, func(cl *manager.Client) error {
				if err := cl.StopService(name); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "Service %s stopped on node %s\n", name, at)
				return nil
			})
		},
	}
	atFlag(cmd, &at, "the node")
	return cmd
}

// newListenerCmd is tcp-listener or udp-listener.
func newListenerCmd(typ string) *cobra.Command {
	upper := strings.ToUpper(typ)
	var at string
	create := &cobra.Command{
		Use:   "create ADDR --at NODE",
		Short: "Listen for " + upper + " on ADDR (HOST:PORT; port 0 picks a free one)",
		Example: fmt.Sprintf(`  hopwire %s-listener create 127.0.0.1:5000 --at n1
  hopwire %s-listener create 127.0.0.1:0 --at n1 --output json`, typ, typ),
		Args: exactArgs(1, "an ADDR to listen on"),
		RunE: func(c *cobra.Command, args []string) error {
			return withManager(c, at, func(cl *manager.Client) error {
				l, err := cl.CreateListener(typ, args[0])
				if err != nil {
					return err
				}
				return emit(c.OutOrStdout(), l, func(w io.Writer) {
					fmt.Fprintf(w, "%s listener on %s at node %s\n", upper, l.Addr, at)
				})
			})
		},
	}
	list := &cobra.Command{
		Use:     "list --at NODE",
		Short:   "List a node's " + upper + " listeners",
		Example: fmt.Sprintf(`  hopwire %s-listener list --at n1`, typ),
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withManager(c, at, func(cl *manager.Client) error {
				ls, err := cl.ListListeners(typ)
				if err != nil {
					return err
				}
				return emit(c.OutOrStdout(), ls, func(w io.Writer) {
					rows := make([][]string, len(ls))
					for i, l := range ls {
						rows[i] = []string{l.Type, l.Addr}
					}
					table(w, []string{"TYPE", "ADDRESS"}, rows)
				})
			})
		},
	}
	del := &cobra.Command{
		Use:     "delete ADDR --at NODE",
		Short:   "Stop listening on ADDR",
		Example: fmt.Sprintf(`  hopwire %s-listener delete 127.0.0.1:5000 --at n1`, typ),
		Args:    exactArgs(1, "the listener's ADDR"),
		RunE: func(c *cobra.Command, args []string) error {
			return withManager(c, at, func(cl *manager.Client) error {
				if err := cl.DeleteListener(typ, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "%s listener on %s deleted from node %s\n", upper, args[0], at)
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{create, list, del} {
		atFlag(c, &at, "the node")
	}
	return group(typ+"-listener", "Create, list and delete a node's "+upper+" listeners", create, list, del)
}

// newConnectionCmd is tcp-connection.
func newConnectionCmd(typ string) *cobra.Command {
	upper := strings.ToUpper(typ)
	var from, to, at string
	create := &cobra.Command{
		Use:   "create --from NODE --to HOST:PORT|/node/NAME",
		Short: "Open a " + upper + " connection from a node; prints the worker address that routes over it",
		Example: fmt.Sprintf(`  hopwire %s-connection create --from n2 --to 127.0.0.1:4000
  hopwire %s-connection create --from n2 --to /node/n3`, typ, typ),
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if to == "" {
				return usagef("%s needs --to HOST:PORT or /node/NAME", c.CommandPath())
			}
			addr := to
			if strings.HasPrefix(to, "/") {
				r, err := resolveRoute(to)
				if err != nil {
					return err
				}
				if len(r) != 1 || r[0].IsLocal() {
					return usagef("--to %q: want one transport address (HOST:PORT, /node/NAME or /ip4/.../%s/PORT)", to, typ)
				}
				addr = r[0].Value()
			}
			return withManager(c, from, func(cl *manager.Client) error {
				conn, err := cl.CreateConnection(typ, addr)
				if err != nil {
					return err
				}
				return emit(c.OutOrStdout(), conn, func(w io.Writer) { fmt.Fprintln(w, workerAddr(conn.Addr)) })
			})
		},
	}
	create.Flags().StringVar(&from, "from", "", "the node that opens the connection")
	create.Flags().StringVar(&to, "to", "", "where to: HOST:PORT or /node/NAME")
	list := &cobra.Command{
		Use:     "list --at NODE",
		Short:   "List a node's connections",
		Example: fmt.Sprintf(`  hopwire %s-connection list --at n2`, typ),
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withManager(c, at, func(cl *manager.Client) error {
				cs, err := cl.ListConnections()
				if err != nil {
					return err
				}
				return emit(c.OutOrStdout(), cs, func(w io.Writer) { printConnections(w, cs) })
			})
		},
	}
	atFlag(list, &at, "the node")
	del := &cobra.Command{
		Use:     "delete /worker/HEX --at NODE",
		Short:   "Close a connection the node opened",
		Example: fmt.Sprintf(`  hopwire %s-connection delete /worker/3f2a... --at n2`, typ),
		Args:    exactArgs(1, "the connection's /worker/HEX"),
		RunE: func(c *cobra.Command, args []string) error {
			id := "0#" + strings.TrimPrefix(args[0], "/worker/")
			return withManager(c, at, func(cl *manager.Client) error {
				if err := cl.DeleteConnection(id); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "Connection %s closed on node %s\n", args[0], at)
				return nil
			})
		},
	}
	atFlag(del, &at, "the node")
	return group(typ+"-connection", "Open, list and close a node's "+upper+" connections", create, list, del)
}

// workerAddr prints a connection's 0#HEX address as a multiaddr.
func workerAddr(a string) string {
	if v, ok := strings.CutPrefix(a, "0#"); ok {
		return "/worker/" + v
	}
	return a
}

func printConnections(w io.Writer, cs []manager.ConnInfo) {
	rows := make([][]string, len(cs))
	for i, c := range cs {
		dir := "accepted"
		if c.Dialed {
			dir = "dialed"
		}
		rows[i] = []string{workerAddr(c.Addr), c.Type, c.Peer, dir}
	}
	table(w, []string{"ADDRESS", "TYPE", "PEER", "DIRECTION"}, rows)
}

// printNodeShow is `node show` for people.
func printNodeShow(w io.Writer, n manager.NodeInfo) {
	compress := ""
	if n.Compress != "" {
		compress = ", TCP compression " + n.Compress
	}
	fmt.Fprintf(w, "Node %s (pid %d, up since %s%s)\n\nListeners\n", n.Name, n.PID, n.Started.Local().Format("2006-01-02 15:04:05"), compress)
	rows := make([][]string, len(n.Listeners))
	for i, l := range n.Listeners {
		rows[i] = []string{"  " + l.Type, l.Addr}
	}
	table(w, []string{"  TYPE", "ADDRESS"}, rows)
	fmt.Fprintln(w, "\nServices")
	rows = rows[:0]
	for _, s := range n.Services {
		rows = append(rows, []string{"  /service/" + s.Name, s.Kind})
	}
	table(w, []string{"  ADDRESS", "KIND"}, rows)
	fmt.Fprintln(w, "\nConnections")
	if len(n.Connections) == 0 {
		fmt.Fprintln(w, "  none")
	} else {
		printConnections(w, n.Connections)
	}
	fmt.Fprintln(w, "\nCounters (non-zero)")
	groups := slices.Sorted(maps.Keys(n.Counters))
	for _, g := range groups {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(n.Counters[g])) {
			if v := n.Counters[g][k]; v != 0 {
				parts = append(parts, fmt.Sprintf("%s=%d", k, v))
			}
		}
		if len(parts) == 0 {
			parts = []string{"all zero"}
		}
		fmt.Fprintf(w, "  %-8s %s\n", g, strings.Join(parts, " "))
	}
}
