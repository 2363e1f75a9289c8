package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/wire"
)

// nodeSpec is what `hopwire node run` starts.
type nodeSpec struct {
	name       string
	tcpListen  string
	echo       []string
	hop        []string
	uppercase  []string
	forward    []string // NAME=ROUTE
	exitOnEOF  bool
	verbose    bool
	eventLoops int
}

func newNodeRun() *cobra.Command {
	var s nodeSpec
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a node in the foreground",
		Long: `Run a node in the foreground until it is interrupted (Ctrl-C, SIGTERM).

The node listens for TCP connections if --tcp-listen is given and starts
the services named by the other flags. Every service started here is
reachable through the TCP listener; anything else on the node is not
(access control: remote traffic reaches only the workers allowed for
its listener).

When it is ready the node prints one line to standard output:

	node NAME ready tcp=HOST:PORT

with the port it bound (useful with port 0).

Example, the seed's three nodes as three processes:

	hopwire node run --name responder --tcp-listen 127.0.0.1:4000 --echo echoer
	hopwire node run --name middle --tcp-listen 127.0.0.1:3000 \
	    --forward 'forward_to_responder=1#127.0.0.1:4000 => echoer'

and a message to the route "1#127.0.0.1:3000 => forward_to_responder" comes
back from the echoer.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNode(cmd.Context(), s, cmd.OutOrStdout(), cmd.ErrOrStderr(), os.Stdin)
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.name, "name", "node", "the node's name, shown in logs")
	f.StringVar(&s.tcpListen, "tcp-listen", "", "listen for TCP connections on HOST:PORT (port 0 picks a free one)")
	f.StringArrayVar(&s.echo, "echo", nil, "start an echo service at this address (repeatable)")
	f.StringArrayVar(&s.hop, "hop", nil, "start a hop service at this address (repeatable)")
	f.StringArrayVar(&s.uppercase, "uppercase", nil, "start an uppercase service at this address (repeatable)")
	f.StringArrayVar(&s.forward, "forward", nil, "start a forwarder: NAME=ROUTE replaces NAME with ROUTE in the onward route (repeatable)")
	f.BoolVar(&s.exitOnEOF, "exit-on-eof", false, "stop when standard input ends (for a parent process that wants its children to die with it)")
	f.BoolVar(&s.verbose, "verbose", false, "log at debug level to standard error")
	f.IntVar(&s.eventLoops, "event-loops", 0, "gnet event loops for TCP (0: one per CPU)")
	return cmd
}

func runNode(ctx context.Context, s nodeSpec, stdout, stderr io.Writer, stdin io.Reader) error {
	level := slog.LevelInfo
	if s.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	node, err := engine.NewNode(engine.Config{Name: s.name, Logger: log})
	if err != nil {
		return err
	}
	defer node.Close()

	services, err := startServices(node, s)
	if err != nil {
		return err
	}
	ready := fmt.Sprintf("node %s ready", s.name)
	if s.tcpListen != "" {
		tr, err := tcp.New(node, tcp.Config{EventLoops: s.eventLoops})
		if err != nil {
			return err
		}
		l, err := tr.Listen(s.tcpListen)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", s.tcpListen, err)
		}
		if len(services) > 0 {
			if err := node.Allow(l.Flow(), services...); err != nil {
				return err
			}
		}
		ready += " tcp=" + l.Addr()
	} else if _, err := tcp.New(node, tcp.Config{EventLoops: s.eventLoops}); err != nil {
		// Without a listener the node can still route out over TCP.
		return err
	}
	fmt.Fprintln(stdout, ready)

	if s.exitOnEOF {
		eof := make(chan struct{})
		go func() {
			_, _ = io.Copy(io.Discard, bufio.NewReader(stdin))
			close(eof)
		}()
		select {
		case <-ctx.Done():
		case <-eof:
		}
	} else {
		<-ctx.Done()
	}
	log.Info("stopping", "node", s.name)
	return nil
}

// startServices starts what the flags ask for and returns their addresses.
func startServices(node *engine.Node, s nodeSpec) ([]string, error) {
	var addrs []string
	start := func(w engine.Worker, addr string) error {
		if err := node.StartWorker(w, addr); err != nil {
			return err
		}
		addrs = append(addrs, addr)
		return nil
	}
	for _, a := range s.echo {
		if err := start(engine.Echo{}, a); err != nil {
			return nil, err
		}
	}
	for _, a := range s.hop {
		if err := start(engine.Hop{}, a); err != nil {
			return nil, err
		}
	}
	for _, a := range s.uppercase {
		if err := start(engine.Uppercase{}, a); err != nil {
			return nil, err
		}
	}
	for _, spec := range s.forward {
		name, route, ok := strings.Cut(spec, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("--forward %q: want NAME=ROUTE", spec)
		}
		r, err := wire.ParseRoute(route)
		if err != nil {
			return nil, fmt.Errorf("--forward %q: %w", spec, err)
		}
		if err := start(engine.Forwarder{Route: r}, strings.TrimSpace(name)); err != nil {
			return nil, err
		}
	}
	if len(addrs) == 0 && s.tcpListen != "" {
		return nil, errors.New("a node with a TCP listener and no services has nothing to offer: add --echo, --hop, --uppercase or --forward")
	}
	return addrs, nil
}
