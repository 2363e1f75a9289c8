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
	"time"

	"github.com/spf13/cobra"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/transports/udp"
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
	compress   string
	udpBind    string
	udpClient  string
	udpPoll    time.Duration
	allowDial  []string
}

func newNodeRun() *cobra.Command {
	var s nodeSpec
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a node in the foreground",
		Long: `Run a node in the foreground until it is interrupted (Ctrl-C, SIGTERM).

The node listens for TCP connections if --tcp-listen is given, receives
UDP datagrams if --udp-bind is given, and starts the services named by
the other flags. Every service started here is reachable through the
TCP listener and the UDP socket; anything else on the node is not
(access control: remote traffic reaches only the workers allowed for
its listener or socket).

Routes out of the node may use TCP (1#HOST:PORT) always, and UDP
(2#IP:PORT) when --udp-bind is given or a --forward route has a UDP
address. Traffic from the network never makes the node connect to a new
address through a --hop service unless --allow-dial allows it (a
--forward route needs no leave: it is the node's own configuration); a
hop does bridge onto connections the node opened itself. A message the
node drops for that reason, or for a worker it has not or does not let
the sender reach, is answered with a one-line refusal naming this node
(at most 100 a second), so the sender sees why instead of a timeout.

Datagrams to peers that have not sent to the node leave from a client
socket on --udp-client (by default the --udp-bind IP, port 0).

When it is ready the node prints one line to standard output:

	node NAME ready tcp=HOST:PORT udp=IP:PORT

with the addresses it bound (useful with port 0); a transport not asked
for is left out.

Example, the seed's three nodes as three processes:

	hopwire node run --name responder --tcp-listen 127.0.0.1:4000 --echo echoer
	hopwire node run --name middle --tcp-listen 127.0.0.1:3000 \
	    --forward 'forward_to_responder=1#127.0.0.1:4000 => echoer'

and a message to the route "1#127.0.0.1:3000 => forward_to_responder" comes
back from the echoer. The same middle node taking UDP in and sending TCP
on:

	hopwire node run --name middle --udp-bind 127.0.0.1:3000 \
	    --forward 'forward_to_responder=1#127.0.0.1:4000 => echoer'

and the route is "2#127.0.0.1:3000 => forward_to_responder". A public hop
that may route on to one more node:

	hopwire node run --name middle --tcp-listen 127.0.0.1:3000 --hop hop \
	    --allow-dial 1#127.0.0.1:4000

and the route "1#127.0.0.1:3000 => hop => 1#127.0.0.1:4000 => echoer".`,
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
	f.StringVar(&s.compress, "compress", "off", "compress payloads of 1 KiB or more on TCP connections whose peer offers it too: s2, zstd or off")
	f.StringVar(&s.udpBind, "udp-bind", "", "receive UDP datagrams on IP:PORT (port 0 picks a free one)")
	f.StringVar(&s.udpClient, "udp-client", "", "the socket UDP datagrams to new peers leave from, IP:PORT (default: the --udp-bind IP, port 0; else 0.0.0.0:0)")
	f.StringArrayVar(&s.allowDial, "allow-dial", nil, "let remote traffic make a --hop service connect to these destinations: 1#HOST:PORT, 1#CIDR, 1#CIDR:PORT, 2#... for UDP, 1#* for any (repeatable; default none)")
	f.DurationVar(&s.udpPoll, "udp-busy-poll", 0, "after a datagram, keep reading the UDP socket without sleeping for this long: lower latency for a CPU kept busy; needs GOMAXPROCS > 1 (0: off)")
	return cmd
}

func runNode(ctx context.Context, s nodeSpec, stdout, stderr io.Writer, stdin io.Reader) error {
	level := slog.LevelInfo
	if s.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	node, err := engine.NewNode(engine.Config{Name: s.name, Logger: log, AllowDial: s.allowDial})
	if err != nil {
		return err
	}
	defer node.Close()

	services, err := startServices(node, s)
	if err != nil {
		return err
	}
	ready := fmt.Sprintf("node %s ready", s.name)
	// Without a listener the node still routes out over TCP.
	codec, err := wire.ParseCodec(s.compress)
	if err != nil {
		return usagef("--compress: %v", err)
	}
	tcpTr, err := tcp.New(node, tcp.Config{EventLoops: s.eventLoops, Compress: codec})
	if err != nil {
		return err
	}
	var udpTr *udp.Transport
	if s.udpBind != "" || routesUseUDP(s.forward) {
		if udpTr, err = udp.New(node, udp.Config{ClientAddr: s.clientAddr(), BusyPoll: s.udpPoll}); err != nil {
			return fmt.Errorf("udp: %w", err)
		}
	}
	for _, ls := range []struct {
		typ  wire.Type
		addr string
		name string
	}{{wire.TCP, s.tcpListen, "tcp"}, {wire.UDP, s.udpBind, "udp"}} {
		if ls.addr == "" {
			continue
		}
		l, err := node.Listen(ls.typ, ls.addr)
		if err != nil {
			return fmt.Errorf("listen on %s %s: %w", ls.name, ls.addr, err)
		}
		if err := node.Allow(l.Flow(), services...); err != nil {
			return err
		}
		ready += " " + ls.name + "=" + l.Addr().Value()
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
	// What was dropped or refused, so that nothing is lost unseen.
	attrs := []any{"node", s.name, "engine", fmt.Sprintf("%+v", node.Stats()), "tcp", fmt.Sprintf("%+v", tcpTr.Stats())}
	if udpTr != nil {
		attrs = append(attrs, "udp", fmt.Sprintf("%+v", udpTr.Stats()))
	}
	log.Info("stopping", attrs...)
	return nil
}

// clientAddr is where datagrams to new peers leave from: --udp-client,
// else the --udp-bind IP (so a node bound to loopback stays there), else
// the udp package's default.
func (s nodeSpec) clientAddr() string {
	if s.udpClient != "" {
		return s.udpClient
	}
	return udpClientAddr(s.udpBind)
}

// routesUseUDP reports whether a --forward route goes out over UDP.
func routesUseUDP(forward []string) bool {
	for _, spec := range forward {
		_, route, _ := strings.Cut(spec, "=")
		r, err := wire.ParseRoute(route)
		if err != nil {
			continue // startServices reports it
		}
		for _, a := range r {
			if a.Type() == wire.UDP {
				return true
			}
		}
	}
	return false
}

// startServices starts what the flags ask for and returns their addresses.
func startServices(node *engine.Node, s nodeSpec) ([]wire.Address, error) {
	var addrs []wire.Address
	start := func(w engine.Worker, name string) error {
		a := wire.LocalAddr(name)
		if err := node.StartWorker(w, a); err != nil {
			return err
		}
		addrs = append(addrs, a)
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
	if len(addrs) == 0 && (s.tcpListen != "" || s.udpBind != "") {
		return nil, errors.New("a node that listens and has no services has nothing to offer: add --echo, --hop, --uppercase or --forward")
	}
	return addrs, nil
}
