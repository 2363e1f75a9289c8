package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hopwire/hopwire/cmd/internal/home"
	"github.com/hopwire/hopwire/cmd/internal/manager"
	"github.com/hopwire/hopwire/wire"
)

func newNodeCmd() *cobra.Command {
	return group("node", "Create, run and manage nodes",
		newNodeCreate(), newNodeStart(), newNodeStop(), newNodeDelete(),
		newNodeList(), newNodeShow(), newNodeLogs(), newNodeServe(), newNodeRun())
}

// nodeInfo is what create, start and list say of a node.
type nodeInfo struct {
	Name    string    `json:"name"`
	Status  string    `json:"status"`
	PID     int       `json:"pid,omitempty"`
	Started time.Time `json:"started,omitzero"`
	TCP     string    `json:"tcp_listener,omitempty"`
	UDP     string    `json:"udp_listener,omitempty"`
	Manager string    `json:"manager,omitempty"`
}

func infoOf(name string, st home.Status, s home.State) nodeInfo {
	i := nodeInfo{Name: name, Status: st.String()}
	if st != home.Stopped {
		i.PID, i.Started, i.TCP, i.UDP, i.Manager = s.PID, s.Started, s.TCP, s.UDP, s.Manager
	}
	return i
}

func openHome() (home.Home, error) { return home.Open() }

func newNodeCreate() *cobra.Command {
	var cfg home.Config
	var foreground bool
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a node and start it in the background",
		Long: `Create a node and start it in the background. It prints one line once the
node is ready. The node listens for TCP on --tcp-listener-address
(default 127.0.0.1 on a free port, kept for later starts) and, if asked,
for UDP; it runs the echo and uppercase services, reachable through its
listeners, and a node manager on a Unix socket in its state directory
that only you can reach.

Remote traffic never makes the node connect anywhere unless --allow-dial
lets it (a hop to a destination the node has not connected to).`,
		Example: `  hopwire node create n1
  hopwire node create n2 --udp-listener-address 127.0.0.1:5000
  hopwire node create n1 --tcp-listener-address 127.0.0.1:4000 --allow-dial 127.0.0.1:5000`,
		Args: exactArgs(1, "a node NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			cfg.Name = args[0]
			if err := home.ValidName(cfg.Name); err != nil {
				return usagef("%v", err)
			}
			if _, err := wire.ParseCodec(cfg.Compress); err != nil {
				return usagef("--compress: %v", err)
			}
			h, err := openHome()
			if err != nil {
				return err
			}
			if err := h.Claim(cfg.Name); errors.Is(err, home.ErrExists) {
				return fmt.Errorf("node %s already exists (hopwire node show %s; hopwire node delete %s)", cfg.Name, cfg.Name, cfg.Name)
			} else if err != nil {
				return fmt.Errorf("create node %s: %w", cfg.Name, err)
			}
			cfg.Created = time.Now().UTC().Truncate(time.Second)
			cfg.AllowDial = dialPolicy(cfg.AllowDial)
			if cfg.Compress == "off" {
				cfg.Compress = ""
			}
			if err := h.SaveConfig(cfg); err != nil {
				_ = h.Remove(cfg.Name)
				return fmt.Errorf("create node %s: %w", cfg.Name, err)
			}
			if foreground {
				ran, err := serveForeground(c.Context(), h, cfg.Name, c.OutOrStdout(), c.ErrOrStderr())
				if err != nil && !ran {
					_ = h.Remove(cfg.Name) // it never ran: nothing left behind
				}
				return err
			}
			st, err := spawn(h, cfg.Name)
			if err != nil {
				_ = h.Remove(cfg.Name) // nothing left behind
				return err
			}
			return emit(c.OutOrStdout(), infoOf(cfg.Name, home.Running, st), func(w io.Writer) {
				fmt.Fprintf(w, "Node %s created: tcp %s%s (pid %d)\n", cfg.Name, st.TCP, udpPart(st), st.PID)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.TCP, "tcp-listener-address", "", "listen for TCP on HOST:PORT (default 127.0.0.1:0, a free port)")
	f.StringVar(&cfg.UDP, "udp-listener-address", "", "listen for UDP on IP:PORT (default: none)")
	f.StringArrayVar(&cfg.AllowDial, "allow-dial", nil, "let remote traffic make this node connect to HOST:PORT, CIDR or CIDR:PORT over TCP (udp:... for UDP); repeatable; default none")
	f.BoolVar(&foreground, "foreground", false, "run the node in this process until interrupted, logging to standard error")
	f.StringVar(&cfg.Compress, "compress", "off", "compress payloads of 1 KiB or more on TCP connections whose peer offers it too: s2 (fast), zstd (denser) or off; for links slower than the CPU compresses")
	return cmd
}

func udpPart(st home.State) string {
	if st.UDP == "" {
		return ""
	}
	return ", udp " + st.UDP
}

// dialPolicy turns --allow-dial values into the engine's (1#... for TCP,
// 2#... for UDP). The node checks them as it starts, and says what it
// refuses.
func dialPolicy(in []string) []string {
	out := make([]string, 0, len(in))
	for _, v := range in {
		switch {
		case strings.HasPrefix(v, "udp:"):
			v = "2#" + strings.TrimPrefix(v, "udp:")
		case strings.HasPrefix(v, "tcp:"):
			v = "1#" + strings.TrimPrefix(v, "tcp:")
		case strings.Contains(v, "#"):
		default:
			v = "1#" + v
		}
		out = append(out, v)
	}
	return out
}

func newNodeStart() *cobra.Command {
	return &cobra.Command{
		Use:     "start NAME",
		Short:   "Start a stopped node again, with the same configuration and ports",
		Example: `  hopwire node start n1`,
		Args:    exactArgs(1, "a node NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			h, name, err := existingNode(args[0])
			if err != nil {
				return err
			}
			st, s, err := h.Status(name)
			if err != nil {
				return err
			}
			if st == home.Running {
				return fmt.Errorf("node %s is already running (pid %d)", name, s.PID)
			}
			if st == home.Stale {
				_, _ = stop(h, name) // clears the stale state
			}
			s, err = spawn(h, name)
			if err != nil {
				return err
			}
			return emit(c.OutOrStdout(), infoOf(name, home.Running, s), func(w io.Writer) {
				fmt.Fprintf(w, "Node %s started: tcp %s%s (pid %d)\n", name, s.TCP, udpPart(s), s.PID)
			})
		},
	}
}

// existingNode opens the state directory and checks that name was created.
func existingNode(name string) (home.Home, string, error) {
	if err := home.ValidName(name); err != nil {
		return home.Home{}, "", usagef("%v", err)
	}
	h, err := openHome()
	if err != nil {
		return h, "", err
	}
	if !h.Exists(name) {
		return h, "", fmt.Errorf("node %s does not exist (hopwire node list shows the nodes)", name)
	}
	return h, name, nil
}

func newNodeStop() *cobra.Command {
	return &cobra.Command{
		Use:     "stop NAME",
		Short:   "Stop a node's process; its configuration stays for node start",
		Example: `  hopwire node stop n1`,
		Args:    exactArgs(1, "a node NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			h, name, err := existingNode(args[0])
			if err != nil {
				return err
			}
			was, err := stop(h, name)
			if err != nil {
				return err
			}
			if !was {
				fmt.Fprintf(c.OutOrStdout(), "Node %s was not running\n", name)
				return nil
			}
			fmt.Fprintf(c.OutOrStdout(), "Node %s stopped\n", name)
			return nil
		},
	}
}

func newNodeDelete() *cobra.Command {
	var all, yes bool
	cmd := &cobra.Command{
		Use:   "delete NAME | --all",
		Short: "Stop nodes and remove everything of theirs",
		Long: `Stop nodes (SIGTERM, then SIGKILL if one has not stopped within 5s) and
remove their state: no process and no file of theirs is left.`,
		Example: `  hopwire node delete n1
  hopwire node delete --all --yes`,
		RunE: func(c *cobra.Command, args []string) error {
			var names []string
			h, err := openHome()
			if err != nil {
				return err
			}
			switch {
			case all && len(args) > 0:
				return usagef("give a NAME or --all, not both")
			case all:
				if names, err = h.Nodes(); err != nil {
					return err
				}
				if !yes && len(names) > 0 {
					if !confirm(c, fmt.Sprintf("Delete %d node(s): %s? [y/N] ", len(names), strings.Join(names, ", "))) {
						return errors.New("not deleted (pass --yes to delete without asking)")
					}
				}
			case len(args) == 1:
				if _, _, err := existingNode(args[0]); err != nil {
					return err
				}
				names = args
			default:
				return usagef("%s needs a node NAME or --all", c.CommandPath())
			}
			var errs []error
			for _, name := range names {
				if _, err := stop(h, name); err != nil {
					errs = append(errs, err)
					continue
				}
				if err := h.Remove(name); err != nil {
					errs = append(errs, fmt.Errorf("remove node %s: %w", name, err))
					continue
				}
				if !jsonOutput() {
					fmt.Fprintf(c.OutOrStdout(), "Node %s deleted\n", name)
				}
			}
			if jsonOutput() {
				_ = emit(c.OutOrStdout(), map[string]any{"deleted": names}, nil)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "delete every node")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask before deleting every node")
	return cmd
}

// confirm asks on the terminal; without one the answer is no.
func confirm(c *cobra.Command, question string) bool {
	if fi, err := os.Stdin.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	fmt.Fprint(c.ErrOrStderr(), question)
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}

func newNodeList() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the nodes and whether each is running",
		Example: `  hopwire node list
  hopwire node list --output json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			h, err := openHome()
			if err != nil {
				return err
			}
			names, err := h.Nodes()
			if err != nil {
				return err
			}
			infos := make([]nodeInfo, 0, len(names))
			for _, name := range names {
				st, s, err := h.Status(name)
				if err != nil {
					return err
				}
				infos = append(infos, infoOf(name, st, s))
			}
			return emit(c.OutOrStdout(), infos, func(w io.Writer) {
				if len(infos) == 0 {
					fmt.Fprintln(w, "No nodes (hopwire node create NAME makes one)")
					return
				}
				rows := make([][]string, len(infos))
				for i, in := range infos {
					rows[i] = []string{in.Name, in.Status, pidText(in.PID), dash(in.TCP), dash(in.UDP)}
				}
				table(w, []string{"NAME", "STATUS", "PID", "TCP", "UDP"}, rows)
			})
		},
	}
}

func pidText(pid int) string {
	if pid == 0 {
		return "-"
	}
	return strconv.Itoa(pid)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// dialManager connects to the running node name's manager, or says why
// it cannot (not created, stopped, stale).
func dialManager(name string) (*manager.Client, error) {
	h, name, err := existingNode(name)
	if err != nil {
		return nil, err
	}
	st, s, err := h.Status(name)
	if err != nil {
		return nil, err
	}
	switch st {
	case home.Stopped:
		return nil, fmt.Errorf("node %s is not running (hopwire node start %s)", name, name)
	case home.Stale:
		return nil, fmt.Errorf("node %s is not running: its process %d is gone (hopwire node start %s starts it again; hopwire node delete %s removes it)", name, s.PID, name, name)
	}
	return manager.Dial(s.Manager, managerTimeout)
}

const managerTimeout = 10 * time.Second

func newNodeShow() *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a running node: listeners, services, connections and counters",
		Example: `  hopwire node show n1
  hopwire node show n1 --output json`,
		Args: exactArgs(1, "a node NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := dialManager(args[0])
			if err != nil {
				return err
			}
			defer cl.Close()
			info, err := cl.NodeShow()
			if err != nil {
				return err
			}
			return emit(c.OutOrStdout(), info, func(w io.Writer) { printNodeShow(w, info) })
		},
	}
}

func newNodeLogs() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print a node's log",
		Example: `  hopwire node logs n1
  hopwire node logs n1 --follow`,
		Args: exactArgs(1, "a node NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			h, name, err := existingNode(args[0])
			if err != nil {
				return err
			}
			f, err := os.Open(h.Log(name))
			if errors.Is(err, os.ErrNotExist) {
				return nil // a node created with --foreground logs to its terminal
			}
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(c.OutOrStdout(), f); err != nil || !follow {
				return err
			}
			return followLog(c.Context(), f, c.OutOrStdout(), h.Log(name))
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing what the node logs until interrupted")
	return cmd
}

// followLog prints what is appended to f until ctx ends or the log is
// removed (the node was deleted); a log that started over is read from
// its start.
func followLog(ctx context.Context, f *os.File, w io.Writer, path string) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		fi, err := os.Stat(path)
		if err != nil {
			return nil
		}
		if pos, _ := f.Seek(0, io.SeekCurrent); fi.Size() < pos {
			_, _ = f.Seek(0, io.SeekStart)
		}
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
	}
}

// newNodeServe is the background node itself, as spawn starts it.
func newNodeServe() *cobra.Command {
	return &cobra.Command{
		Use:    "serve NAME",
		Short:  "Run a created node in this process (what node create and node start run in the background)",
		Hidden: true,
		Args:   exactArgs(1, "a node NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			h, name, err := existingNode(args[0])
			if err != nil {
				return err
			}
			cfg, err := h.LoadConfig(name)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(logWriter(), &slog.HandlerOptions{Level: slog.LevelInfo}))
			ready := readyPipe()
			err = runManaged(c.Context(), h, cfg, log, func(st home.State) {
				if ready != nil {
					b, _ := json.Marshal(st)
					fmt.Fprintf(ready, "ok %s\n", b)
					ready.Close()
					ready = nil
				}
			})
			if err != nil && ready != nil {
				fmt.Fprintf(ready, "error %s\n", oneLine(err.Error()))
				ready.Close()
			}
			return err
		},
	}
}

// serveForeground runs a created node in this process until interrupted;
// ran says whether it got as far as ready.
func serveForeground(ctx context.Context, h home.Home, name string, stdout, stderr io.Writer) (ran bool, err error) {
	cfg, err := h.LoadConfig(name)
	if err != nil {
		return false, err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	err = runManaged(ctx, h, cfg, log, func(st home.State) {
		ran = true
		fmt.Fprintf(stdout, "Node %s running: tcp %s%s (pid %d); Ctrl-C stops it\n", name, st.TCP, udpPart(st), st.PID)
	})
	return ran, err
}

// logWriter is the background node's log: standard error, which spawn
// pointed at the log file, capped in size.
func logWriter() io.Writer {
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode().IsRegular() {
		return newCappedLog(os.Stderr)
	}
	return os.Stderr
}

// readyPipe is the descriptor spawn waits on, if this process has one.
func readyPipe() *os.File {
	if os.Getenv(readyEnv) != strconv.Itoa(readyFD) {
		return nil
	}
	os.Unsetenv(readyEnv)
	return os.NewFile(readyFD, "ready")
}

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }
