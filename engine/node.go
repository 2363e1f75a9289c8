package engine

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hopwire/hopwire/wire"
)

// Defaults for a zero Config.
const (
	DefaultMailboxSize = 4096
	DefaultSendTimeout = time.Second
	DefaultWorkerWait  = 10 * time.Millisecond
	DefaultDeliverWait = 50 * time.Millisecond
)

// Config configures a Node. Its zero value means defaults.
type Config struct {
	Name        string        // shown in logs; default "node"
	Loops       int           // event loops; 0 means runtime.GOMAXPROCS(0)
	MailboxSize int           // capacity of each loop's and app context's mailbox, rounded up to a power of two; 0 means DefaultMailboxSize
	MaxFrame    int           // largest encoded message; 0 means wire.DefaultMaxFrame
	SendTimeout time.Duration // how long an app context's Send waits for room in a full mailbox; 0 means DefaultSendTimeout, < 0 means do not wait
	WorkerWait  time.Duration // how long a worker's Forward or Reply waits for room in another loop's full mailbox while that loop starts no turn (its Send does not wait); 0 means DefaultWorkerWait, < 0 means do not wait
	DeliverWait time.Duration // how long Deliver (a transport's reader) waits for room in a full mailbox before it drops; 0 means DefaultDeliverWait, < 0 means do not wait
	Logger      *slog.Logger  // nil means discard
	// AllowDial lists the destinations remote traffic may make the node
	// open a new link to through the built-in Hop (dial over TCP, send to
	// a new UDP peer): "1#*" (any TCP address), "1#10.0.0.7:4000" (that
	// one), "2#10.0.0.0/8" or "1#127.0.0.0/8:4000" (IPs in the prefix, any
	// port or that port), "3#/run/hopwire/node.sock" (that Unix socket) or
	// "3#*". Empty, the default: none. A Forwarder's configured route and
	// local traffic need no entry. See access.go.
	AllowDial []string
}

func (c *Config) setDefaults() {
	if c.Name == "" {
		c.Name = "node"
	}
	if c.Loops <= 0 {
		c.Loops = runtime.GOMAXPROCS(0)
	}
	if c.MailboxSize <= 0 {
		c.MailboxSize = DefaultMailboxSize
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = DefaultSendTimeout
	}
	if c.WorkerWait == 0 {
		c.WorkerWait = DefaultWorkerWait
	}
	if c.DeliverWait == 0 {
		c.DeliverWait = DefaultDeliverWait
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Node hosts workers at addresses and moves messages between them by their
// onward routes. Each worker lives on one event loop; a loop runs one
// handler at a time, so a worker needs no locks. Node's methods are safe
// for concurrent use.
type Node struct {
	cfg   Config
	log   *slog.Logger
	pool  *wire.Pool
	loops []*loop
	wg    sync.WaitGroup
	place atomic.Uint32 // round-robin loop placement

	regMu      sync.Mutex           // serialises writers of workers and all
	workers    *registry            // loops read it lock-free
	all        map[*worker]struct{} // every live worker, under regMu
	transports atomic.Pointer[[256]Transport]

	// External senders (app goroutines, transports) count themselves in
	// so Close can wait for them before it drains the mailboxes.
	inflight atomic.Int64
	closing  atomic.Bool
	closeMu  sync.Once
	done     chan struct{}
	// loopsDone is closed once every loop has stopped: what Close's
	// CloseTimeout bounds.
	loopsDone chan struct{}

	flows     atomic.Uint64    // last flow id handed out
	links     map[uint64]*Link // open links by flow, under regMu
	watchers  []*worker        // WatchLinks; copy on write under regMu
	listeners []Listener       // Host.Listening, under regMu
	gen       atomic.Uint64    // bumped by every change to who may reach what
	dial      dialPolicy       // Config.AllowDial

	deniedLog  atomic.Int64  // UnixNano of the last access-control warning (handlerError)
	deniedHeld atomic.Uint64 // warnings held back since
	stats      counters

	named        bool         // Config.Name was given: notices carry it
	noticeTokens noticeBucket // refusal notices' rate limit (notice.go)
}

// NewNode starts a node's event loops. Close stops them.
func NewNode(cfg Config) (*Node, error) {
	named := cfg.Name != ""
	cfg.setDefaults()
	if cfg.MaxFrame != 0 && (cfg.MaxFrame < wire.MinFrame || cfg.MaxFrame > wire.MaxFrameLimit) {
		return nil, &ConfigError{Field: "MaxFrame", Reason: "must be between wire.MinFrame and wire.MaxFrameLimit"}
	}
	if cfg.MailboxSize > 1<<24 {
		return nil, &ConfigError{Field: "MailboxSize", Reason: "must be at most 1<<24"}
	}
	dial, err := parseDialPolicy(cfg.AllowDial)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:       cfg,
		log:       cfg.Logger.With("node", cfg.Name),
		pool:      wire.NewPool(cfg.MaxFrame),
		done:      make(chan struct{}),
		loopsDone: make(chan struct{}),
		links:     make(map[uint64]*Link),
		dial:      dial,
		named:     named,
	}
	n.workers = newRegistry()
	n.all = make(map[*worker]struct{})
	n.transports.Store(new([256]Transport))
	n.loops = make([]*loop, cfg.Loops)
	for i := range n.loops {
		n.loops[i] = newLoop(n, i, cfg.MailboxSize)
	}
	for _, l := range n.loops {
		l.out = make([]outbox, len(n.loops))
		l.dirty = make([]*outbox, 0, len(n.loops))
		for i, to := range n.loops {
			l.out[i] = outbox{to: to, buf: make([]delivery, 0, outboxSize)}
		}
	}
	n.wg.Add(len(n.loops))
	for _, l := range n.loops {
		go l.run()
	}
	return n, nil
}

// ConfigError reports a Config field that cannot be used.
type ConfigError struct{ Field, Reason string }

func (e *ConfigError) Error() string { return "engine: Config." + e.Field + " " + e.Reason }

// Name returns the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Pool returns the pool the node's messages come from: a program that
// builds a message itself (to hand it to Context.Forward, say) takes it
// from here, and transports build what they receive from it.
func (n *Node) Pool() *wire.Pool { return n.pool }

// Loops returns the number of event loops.
func (n *Node) Loops() int { return len(n.loops) }

// Stats returns the node's drop and error counters.
func (n *Node) Stats() Stats { return n.stats.snapshot() }

// Logger returns the node's logger.
func (n *Node) Logger() *slog.Logger { return n.log }

// Done is closed when the node has stopped.
func (n *Node) Done() <-chan struct{} { return n.done }

// StartWorker starts w at the given local addresses (wire.LocalAddr) on
// the next loop in round-robin order.
func (n *Node) StartWorker(w Worker, addrs ...wire.Address) error {
	return n.StartWorkerOn(int(n.place.Add(1)-1)%len(n.loops), w, addrs...)
}

// StartWorkerOn starts w at the given local addresses on loop i. Workers
// that pass messages to each other on one loop do so without a goroutine
// hand-off; that placement is what this is for.
func (n *Node) StartWorkerOn(i int, w Worker, addrs ...wire.Address) error {
	if i < 0 || i >= len(n.loops) {
		return ErrBadLoop
	}
	_, err := n.register(&worker{h: w, loop: n.loops[i], via: viaOf(w)}, addrs)
	return err
}

// register publishes wk, which has its handler, loop, mailbox or Direct
// set, at addrs.
func (n *Node) register(wk *worker, as []wire.Address) (*worker, error) {
	if len(as) == 0 {
		return nil, ErrNoAddress
	}
	names := make([]string, len(as))
	for i, a := range as {
		if err := a.Validate(); err != nil {
			return nil, err
		}
		if !a.IsLocal() {
			return nil, &AddressError{Input: a.String(), Err: ErrNotLocal}
		}
		names[i] = a.Value()
	}
	wk.addrs = names
	ctx := Context{node: n, self: as[0], selfRoute: wire.Route{as[0]}, loop: wk.loop, w: wk, appBox: wk.box}
	if wk.box != nil {
		wk.app = &App{Context: ctx}
		wk.ctx = &wk.app.Context
	} else {
		wk.ctx = &ctx
	}

	n.regMu.Lock()
	defer n.regMu.Unlock()
	if n.closing.Load() {
		return nil, ErrClosed
	}
	for _, s := range wk.addrs {
		if n.workers.getString(s) != nil {
			return nil, &AddressError{Input: s, Err: ErrAddressInUse}
		}
	}
	for _, s := range wk.addrs {
		n.workers.set(s, wk)
	}
	n.all[wk] = struct{}{}
	n.gen.Add(1)
	return wk, nil
}

// unregister removes wk's addresses; messages already queued for it are
// released when they reach it.
func (n *Node) unregister(wk *worker) bool {
	n.regMu.Lock()
	defer n.regMu.Unlock()
	if n.workers.getString(wk.addrs[0]) != wk {
		return false
	}
	for _, s := range wk.addrs {
		n.workers.set(s, nil)
	}
	delete(n.all, wk)
	if slices.Contains(n.watchers, wk) {
		n.watchers = slices.DeleteFunc(slices.Clone(n.watchers), func(w *worker) bool { return w == wk })
	}
	n.gen.Add(1)
	return true
}

func (n *Node) lookup(name []byte) *worker {
	return n.workers.get(name)
}

// lookupAddr finds the worker at a local address.
func (n *Node) lookupAddr(a wire.Address) *worker {
	if !a.IsLocal() {
		return nil
	}
	return n.workers.getString(a.Value())
}

// StopWorker stops the worker at addr: its addresses are freed at once,
// its Shutdown (if it has one) runs on its loop, and messages still queued
// for it are released. It waits for the Shutdown to finish; a worker
// stopping another from its handler uses Context.StopWorker instead.
func (n *Node) StopWorker(addr wire.Address) error {
	wk := n.lookupAddr(addr)
	if wk == nil || !n.unregister(wk) {
		return &AddressError{Input: addr.String(), Err: ErrUnknownWorker}
	}
	switch {
	case wk.box != nil:
		wk.ctx.closeApp()
		return nil
	case wk.direct != nil:
		return nil
	}
	done := make(chan struct{})
	if !wk.loop.post(func() { wk.stop(); close(done) }) {
		return ErrClosed
	}
	select {
	case <-done:
	case <-n.done:
	}
	return nil
}

// CloseTimeout bounds how long Close waits for the loops to stop.
const CloseTimeout = time.Second

// Close stops the node: it stops taking messages in, every loop stops
// dispatching at the end of its turn and runs its workers' Shutdown
// hooks, transports close, and every message still queued is released
// and counted (Stats.DroppedAtClose). It is idempotent.
//
// Close waits up to CloseTimeout for the loops to stop, then for the
// rest (transports closing their connections). A handler that has not
// returned by then (one that sleeps, or waits on something that never
// comes) keeps its loop, and no engine can take a loop from a running
// handler: Close then returns an error wrapping ErrCloseTimeout that
// names the loop, and the node finishes stopping when the handler
// returns (Done is closed then).
//
// A handler must not call Close: the wait needs the loop the handler is
// running on (or a transport's reader that is running it). From a
// handler, call Shutdown with a context that is already done: the node
// starts stopping and Shutdown returns at once; Done says when it is over.
func (n *Node) Close() error {
	n.closeMu.Do(func() { go n.shutdown() })
	t := time.NewTimer(CloseTimeout)
	defer t.Stop()
	select {
	case <-n.loopsDone:
	case <-t.C:
		select {
		case <-n.loopsDone:
		default:
			return n.stuck()
		}
	}
	<-n.done
	return nil
}

// Shutdown is Close with the whole wait bounded by ctx instead; the
// shutdown goes on after ctx ends.
func (n *Node) Shutdown(ctx context.Context) error {
	n.closeMu.Do(func() { go n.shutdown() })
	select {
	case <-n.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stuck describes the loops a handler still holds.
func (n *Node) stuck() error {
	var held []string
	for _, l := range n.loops {
		if !l.hasExited() {
			held = append(held, strconv.Itoa(l.id))
		}
	}
	return fmt.Errorf("%w: a handler still runs on loop %s after %v; the node stops when it returns (Node.Done)", ErrCloseTimeout, strings.Join(held, ", "), CloseTimeout)
}

func (n *Node) shutdown() {
	n.regMu.Lock()
	n.closing.Store(true)
	all := slices.Collect(maps.Keys(n.all))
	n.regMu.Unlock()

	// From here no external send starts (enter), and every wait for room
	// gives up. The loops stop at the end of their turn, each running its
	// workers' Shutdown hooks and releasing what it holds; the transports
	// close meanwhile, so one whose reader is held by a handler that does
	// not return keeps no loop from stopping.
	var transports sync.WaitGroup
	for _, t := range n.transports.Load() {
		if t != nil {
			transports.Go(func() {
				if err := t.Close(); err != nil {
					n.log.Warn("closing transport", "type", t.Type(), "err", err)
				}
			})
		}
	}
	for _, l := range n.loops {
		var mine []*worker
		for _, wk := range all {
			if wk.loop == l {
				mine = append(mine, wk)
			}
		}
		l.post(func() {
			for _, wk := range mine {
				wk.stop()
			}
			l.stopping = true
		})
	}
	n.wg.Wait()
	close(n.loopsDone)
	transports.Wait()
	// What external senders and Shutdown hooks pushed after a loop had
	// stopped is released now that nothing runs.
	for n.inflight.Load() != 0 {
		time.Sleep(10 * time.Microsecond)
	}
	for _, l := range n.loops {
		l.drain()
	}
	for _, wk := range all {
		if wk.box != nil {
			wk.ctx.closeApp()
		}
	}
	close(n.done)
}

// enter counts an external sender in; it fails once the node is closing.
func (n *Node) enter() bool {
	n.inflight.Add(1)
	if n.closing.Load() {
		n.inflight.Add(-1)
		return false
	}
	return true
}

func (n *Node) exit() { n.inflight.Add(-1) }

// Inbound delivers what one reader of a transport (a connection, a
// socket) takes in, remembering the workers it resolved last, as a
// worker's Context does, so a reader that keeps addressing the same
// workers skips the registry's map lookup. It is not safe for concurrent
// use: one per reader.
type Inbound struct {
	node *Node
	hops hopCache
}

// Deliver routes m, which arrived over link l, and owns it from the call
// on, on error too. It stamps m with l's origin (access control) and
// spends one of m's hops: a message with none left is dropped and
// counted (ErrHopsExhausted). A message for an unknown local address is
// dropped, counted and logged at debug level; the error says why, and
// the sender is sent a refusal notice (notice.go), as it is for one
// access control keeps from its worker.
//
// A full mailbox makes Deliver wait up to Config.DeliverWait: the
// transport's reader stops reading meanwhile, so the kernel's buffers
// fill and TCP's flow control slows the peer down. Past the wait the
// message is dropped and ErrMailboxFull returned.
func (in *Inbound) Deliver(l *Link, m *wire.Message) error {
	n := in.node
	if !m.SpendHop() {
		n.stats.expired.Add(1)
		m.Release()
		return ErrHopsExhausted
	}
	setMeta(m, wire.Meta{Flow: l.flow, Spawner: l.spawner})
	if !n.enter() {
		m.Release()
		return ErrClosed
	}
	err := n.route(nil, &in.hops, m, send{wait: n.cfg.DeliverWait})
	n.exit()
	return err
}

// route moves m toward its next onward address and owns it: on error m
// has been released. from is the loop the caller runs on (nil off the
// loops); hc, if not nil, is the caller's cache of resolutions. how says
// how long the sender waits for room in a full mailbox and whether m is
// new (see send).
func (n *Node) route(from *loop, hc *hopCache, m *wire.Message, how send) error {
	t, v, ok := m.Next()
	if !ok {
		n.stats.undeliverable.Add(1)
		m.Release()
		return wire.ErrEmptyRoute
	}
	if t != wire.Local {
		// The transport asks the link it picks (Link.Admit) or, for a
		// new one, the node (AdmitDial).
		if tr := n.transports.Load()[t]; tr != nil {
			return tr.Send(m)
		}
		err := unknownAddr(t, v)
		n.stats.undeliverable.Add(1)
		m.Release()
		return err
	}
	var wk *worker
	if hc != nil {
		wk = hc.resolve(n, v)
	} else {
		wk = n.lookup(v)
	}
	if wk == nil {
		err := unknownAddr(t, v)
		n.stats.unknown.Add(1)
		if m.FromNetwork() {
			if n.log.Enabled(context.Background(), slog.LevelDebug) {
				n.log.Debug("dropped message for unknown address", "addr", string(v), "flow", m.Meta().Flow)
			}
			n.refuseUnknown(m, v)
		}
		m.Release()
		return err
	}
	if m.FromNetwork() && wk.link == nil && !wk.allows(m.Meta()) {
		// The notice says what an unknown worker's says (v is still m's);
		// a connection worker's link decides for itself (deliver).
		n.refuseUnknown(m, v)
		return n.deny(wk.addrs[0], m)
	}
	return wk.deliver(from, m, how)
}
