package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/transports/udp"
	"github.com/hopwire/hopwire/wire"
)

const (
	// monitorEvery is how often the run checks the transport for a peer
	// that went away (a TCP connection that cannot be dialed again).
	monitorEvery = 100 * time.Millisecond
	// maxMailbox bounds the app contexts' mailboxes of an open loop
	// (and the node's loops', which share the setting).
	maxMailbox = 1 << 16
)

// run is what a run's senders share.
type run struct {
	cfg       Config
	route     wire.Route
	runID     uint32
	start     time.Time
	sendUntil int64   // ns since start: no request is sent (or scheduled) from then on
	interval  float64 // ns between requests over all senders; 0: closed loop
	warmup    int64   // ns since start: requests due before then are not measured
	pacer     *pacer  // wakes the senders of an open loop; nil in a closed one

	tickets   atomic.Uint64 // requests claimed (see sender.loop)
	stop      atomic.Bool   // send no more: the run was interrupted or aborted
	aborted   atomic.Bool   // and do not wait for the replies in flight
	stoppedAt atomic.Int64  // when ctx or an abort stopped the sending, ns since start; 0: neither

	mu       sync.Mutex
	fatal    error // what aborted the run
	firstErr error // the first error counted that did not abort it
}

func (r *run) now() int64 { return int64(time.Since(r.start)) }

// abort ends the run at once: senders stop sending and count what is in
// flight as lost. The first error is the run's.
func (r *run) abort(err error) {
	r.mu.Lock()
	if r.fatal == nil {
		r.fatal = err
	}
	r.mu.Unlock()
	r.aborted.Store(true)
	r.stop.Store(true)
	r.stoppedAt.CompareAndSwap(0, r.now())
}

// noteError keeps the first error that was counted without ending the
// run, for the summary.
func (r *run) noteError(err error) {
	r.mu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.mu.Unlock()
}

// Run starts an embedded node, sends requests along cfg.Route from
// cfg.Concurrency senders and checks the replies, until cfg.Count
// requests are sent, cfg.Duration has passed or ctx ends, whichever
// comes first; requests still in flight then get up to cfg.Timeout. An
// open loop (cfg.Rate) sends every request due before cfg.Duration, late
// if it must, unless it falls cfg.Timeout behind.
//
// An error that stops the run from starting (bad config or route text,
// a node that cannot be reached) comes with a nil Result. An error that
// ends it early (the connection closed, the node went away) comes with
// the Result so far, whose Error says the same. A run ended by ctx is
// not an error: its Result has Interrupted set. Lost requests and
// counted errors are in the Result, not the error (see Result.Err).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	route, err := parseTo(cfg.Route)
	if err != nil {
		return nil, err
	}
	if cfg.Connections > 1 && route[0].Type() != wire.TCP {
		return nil, &FlagError{"connections", cfg.Connections, fmt.Sprintf("spreads the senders over TCP connections; the route starts with %v", route[0])}
	}
	// SendTimeout: the pacer's wake-ups must not wait for a full mailbox
	// (the senders' requests leave through a transport, which does not
	// use it).
	ncfg := engine.Config{Name: "hopload", Logger: cfg.Logger, SendTimeout: -1}
	if cfg.Rate > 0 {
		// Replies to an open loop come in at the rate whatever the
		// sender is doing: room for a sender that is busy a while.
		ncfg.MailboxSize = int(min(max(openLimit(cfg), engine.DefaultMailboxSize), maxMailbox))
	}
	node, err := engine.NewNode(ncfg)
	if err != nil {
		return nil, err
	}
	defer node.Close()
	link, err := attach(ctx, node, route[0], cfg.Connections)
	if err != nil {
		return nil, err
	}

	r := &run{cfg: cfg, route: route, runID: rand.Uint32() | 1, sendUntil: math.MaxInt64, warmup: int64(cfg.Warmup)}
	if cfg.Duration > 0 {
		r.sendUntil = int64(cfg.Duration)
	}
	if cfg.Rate > 0 {
		r.interval = 1e9 / cfg.Rate
	}
	senders := make([]*sender, cfg.Concurrency)
	for i := range senders {
		app, err := node.NewContext(wire.LocalAddr(fmt.Sprintf("hopload-%d", i)))
		if err != nil {
			return nil, err
		}
		senders[i] = newSender(r, i, app, link.routeFor(i, route))
	}
	if r.interval > 0 {
		if r.pacer, err = newPacer(node, r.runID, senders); err != nil {
			return nil, err
		}
	}

	r.start = time.Now()
	if r.pacer != nil {
		go r.pacer.run(r)
	}
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop()
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	interrupted := supervise(ctx, r, link, senders, done)
	elapsed := time.Since(r.start)
	if r.pacer != nil {
		r.pacer.Close()
	}
	for _, s := range senders {
		_ = s.ctx.Close()
	}
	res := newResult(r, route, link, senders, elapsed, interrupted)
	res.addNodeStats(node.Stats())
	if r.fatal != nil {
		return res, r.fatal
	}
	return res, nil
}

// supervise waits for the senders to finish, meanwhile writing progress
// lines, stopping the senders when ctx ends and aborting the run when the
// peer cannot be reached any more. It reports whether ctx ended the run.
func supervise(ctx context.Context, r *run, link *link, senders []*sender, done <-chan struct{}) (interrupted bool) {
	var progress <-chan time.Time
	if r.cfg.Progress > 0 && r.cfg.ProgressOut != nil {
		t := time.NewTicker(r.cfg.Progress)
		defer t.Stop()
		progress = t.C
	}
	monitor := time.NewTicker(monitorEvery)
	defer monitor.Stop()
	ctxDone := ctx.Done()
	var prog progressLine
	for {
		select {
		case <-done:
			return interrupted
		case <-ctxDone:
			ctxDone = nil
			interrupted = true
			// Stopped first: a sender that has not seen it read the
			// time before, so nothing it sends is due after stoppedAt.
			r.stop.Store(true)
			r.stoppedAt.CompareAndSwap(0, r.now())
		case <-progress:
			prog.write(r, senders)
		case <-monitor.C:
			if err := link.check(); err != nil {
				r.abort(err)
			}
		}
	}
}

// link is the transport the route leaves by.
type link struct {
	name  string // "tcp" or "udp"
	peer  string // the first address's value
	tcp   *tcp.Transport
	udp   *udp.Transport
	conns []engine.Conn // TCP with more than one connection: the senders' own
}

// attach starts the transport for the route's first address and, for
// TCP, connects to the peer (conns times), so that a node that is not
// there is an error now rather than lost requests later.
func attach(ctx context.Context, node *engine.Node, first wire.Address, conns int) (*link, error) {
	l := &link{peer: first.Value()}
	switch first.Type() {
	case wire.TCP:
		tr, err := tcp.New(node, tcp.Config{})
		if err != nil {
			return nil, err
		}
		l.name, l.tcp = "tcp", tr
		// Closing the node cancels the dial when ctx ends first.
		cancelClose := context.AfterFunc(ctx, func() { node.Close() })
		for i := 0; i < conns && err == nil; i++ {
			var c engine.Conn
			if c, err = tr.Connect(l.peer); err == nil && conns > 1 {
				l.conns = append(l.conns, c)
			}
		}
		if !cancelClose() {
			<-node.Done()
			return nil, fmt.Errorf("interrupted while connecting to %s", l.peer)
		}
		if err != nil {
			return nil, fmt.Errorf("cannot reach the node at %s: %w", l.peer, err)
		}
	case wire.UDP:
		ap, err := netip.ParseAddrPort(l.peer)
		if err != nil {
			return nil, fmt.Errorf("--to: UDP address %q must be a literal ip:port (no host names): %w", first, err)
		}
		tr, err := udp.New(node, udp.Config{ClientAddr: udpClientAddr(ap.Addr()), SocketBuffer: 4 << 20})
		if err != nil {
			return nil, err
		}
		l.name, l.udp = "udp", tr
	}
	return l, nil
}

// udpClientAddr is the address for the client socket that reaches ip:
// loopback stays on loopback.
func udpClientAddr(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case ip.Is4() && ip.IsLoopback():
		return "127.0.0.1:0"
	case ip.Is4():
		return "0.0.0.0:0"
	case ip.IsLoopback():
		return "[::1]:0"
	default:
		return "[::]:0"
	}
}

// routeFor returns sender i's route: the run's, or with several
// connections the same over the sender's own connection.
func (l *link) routeFor(i int, route wire.Route) wire.Route {
	if len(l.conns) == 0 {
		return route
	}
	return append(wire.Route{l.conns[i%len(l.conns)].Addr()}, route[1:]...)
}

// check reports a peer that cannot be reached any more: a TCP connection
// that closed and could not be dialed again, or one of several
// connections that closed (the senders' routes name it, so it is not
// dialed again). A UDP peer that went away shows only as lost requests.
func (l *link) check() error {
	if l.tcp == nil {
		return nil
	}
	if n := l.tcp.Stats().DialErrors; n > 0 {
		return fmt.Errorf("lost the connection to %s and could not dial it again (%d failed dials): is the node still running?", l.peer, n)
	}
	for i, c := range l.conns {
		select {
		case <-c.Done():
			return fmt.Errorf("lost connection %d of %d to %s: is the node still running?", i+1, len(l.conns), l.peer)
		default:
		}
	}
	return nil
}

// stats returns the transport's counters that explain lost requests or
// errors, the nonzero ones.
func (l *link) stats() map[string]uint64 {
	m := map[string]uint64{}
	add := func(k string, v uint64) {
		if v != 0 {
			m[k] = v
		}
	}
	switch {
	case l.tcp != nil:
		s := l.tcp.Stats()
		add("tcp_dial_errors", s.DialErrors)
		add("tcp_queue_full", s.QueueFull)
		add("tcp_queue_waits", s.QueueWaits)
		add("tcp_dropped", s.Dropped)
		add("tcp_send_errors", s.SendErrors)
		add("tcp_undeliverable", s.Undeliverable)
		add("tcp_bad_frame", s.BadFrame)
		add("tcp_frame_timeouts", s.FrameTimeouts)
		add("tcp_over_budget", s.OverBudget)
	case l.udp != nil:
		s := l.udp.Stats()
		add("udp_busy", s.Busy)
		add("udp_too_large", s.TooLarge)
		add("udp_send_errors", s.SendErrors)
		add("udp_unsolicited", s.Unsolicited)
		add("udp_bad_datagram", s.BadDatagram)
		add("udp_undeliverable", s.Undeliverable)
	}
	return m
}
