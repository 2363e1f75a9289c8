package tcp

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/internal/gnetlog"
	"github.com/hopwire/hopwire/transports/internal/ratelog"
	"github.com/hopwire/hopwire/transports/internal/traffic"
	"github.com/hopwire/hopwire/wire"
)

// Transport carries a node's messages over TCP. It is the node's
// transport for wire.TCP addresses: a route through "1#host:port" reaches
// the node listening there, over a connection the transport opens on the
// first send and reuses after. Its methods are safe for concurrent use.
//
// The same Transport, made by NewUnix, carries them over Unix-domain
// stream sockets instead, for wire.Unix addresses ("3#/path/to/sock"):
// the handshake, framing, access control, write path and limits are the
// same; only how a socket is named, bound and dialed differs (unix.go).
type Transport struct {
	host     engine.Host
	cfg      Config
	network  string    // "tcp" or "unix", for net.Dial and net.Listen
	typ      wire.Type // wire.TCP or wire.Unix: the addresses it serves
	log      *slog.Logger
	pool     *wire.Pool
	maxFrame int
	hello    wire.Hello // what this side offers (Config.Compress)
	helloB   []byte     // hello, encoded: each connection's first bytes

	dialedFlow uint64 // spawner of the links of dialed connections

	eng    *sharedEngine // the gnet engine of its connections, shared in the process (shared.go)
	client *gnet.Client  // eng's

	mu        sync.Mutex       // serialises writers of the maps below, listeners, closed
	byKey     *connMap         // dialed connections by the host:port routes name
	byID      *connMap         // every connection by its id
	closedIO  traffic.Counters // traffic of the connections closed
	listeners map[*listener]struct{}
	closed    atomic.Bool

	ctx      context.Context // ends at Close: cancels dials under way
	cancel   context.CancelFunc
	dials    sync.WaitGroup // dial goroutines and Connect calls under way
	flushers sync.WaitGroup // connections' flusher goroutines
	closing  sync.Once

	pending budget        // bytes held by incomplete frames (Config.MaxPendingBytes)
	queued  atomic.Int64  // bytes in the connections' outbound queues (Config.MaxQueuedBytes)
	swept   chan struct{} // closed when the frame sweeper has returned

	stats counters

	// Logs about what the network does, one line a second per cause
	// (transports/internal/ratelog).
	warns                ratelog.Set                         // per-message warnings (conn.warn), by message
	closeLogs            [len(closeKindText)]ratelog.Limiter // connections closed, by reason
	acceptLog, rejectLog ratelog.Limiter                     // failed accepts, connections over Config.MaxConns
}

// New starts a TCP transport for node and registers it as the node's
// transport for wire.TCP addresses. The node closes it when it closes.
func New(node *engine.Node, cfg Config) (*Transport, error) {
	return newTransport(node, cfg, "tcp", wire.TCP)
}

func newTransport(node *engine.Node, cfg Config, network string, typ wire.Type) (*Transport, error) {
	if err := cfg.setDefaults(node.Pool().MaxFrame()); err != nil {
		return nil, err
	}
	t := &Transport{
		host:      engine.HostOf(node),
		cfg:       cfg,
		network:   network,
		typ:       typ,
		log:       node.Logger().With("transport", network),
		pool:      node.Pool(),
		maxFrame:  cfg.MaxFrame,
		listeners: make(map[*listener]struct{}),
		byKey:     newConnMap(),
		byID:      newConnMap(),
		pending:   budget{max: cfg.MaxPendingBytes},
		swept:     make(chan struct{}),
		hello:     wire.LocalHello(cfg.Compress.Offer()),
	}
	t.helloB = t.hello.Append(nil)
	t.ctx, t.cancel = context.WithCancel(context.Background())
	if t.dialedFlow = cfg.DialedFlow; t.dialedFlow == 0 {
		t.dialedFlow = t.host.NewFlow()
	}

	eng, err := acquireEngine(t)
	if err != nil {
		t.cancel()
		return nil, err
	}
	t.eng, t.client = eng, eng.cli
	go t.sweep() // ends when t.ctx does
	if err := t.host.AddTransport(t); err != nil {
		t.cancel()
		<-t.swept
		_ = eng.release()
		return nil, err
	}
	return t, nil
}

func (t *Transport) gnetOptions() []gnet.Option {
	return []gnet.Option{
		gnet.WithNumEventLoop(t.cfg.EventLoops),
		gnet.WithReadBufferCap(t.cfg.ReadBufferCap),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetlog.Logger{L: t.log}),
	}
}

// Type returns wire.TCP, or wire.Unix for a transport made by NewUnix.
func (t *Transport) Type() wire.Type { return t.typ }

// Stats returns the transport's counters.
func (t *Transport) Stats() Stats {
	s := t.stats.snapshot()
	s.PendingBytes = t.pending.held.Load()
	s.QueuedBytes = t.queued.Load()
	var io traffic.Totals
	t.closedIO.AddTo(&io)
	for _, c := range t.byID.load() {
		c.io.AddTo(&io)
	}
	s.addTraffic(io)
	return s
}

// DialedFlow returns the flow that spawns the connections the transport
// dials, for node.Allow: what is allowed for it, whatever comes back
// over any of them may reach (besides the reply paths of what the node
// sent there, which need no Allow).
func (t *Transport) DialedFlow() uint64 { return t.dialedFlow }

// Send carries m to the connection its next onward address names and
// owns m from the call on, on error too. The address is either
// "1#host:port" — the connection this transport dialed to host:port,
// dialed now (in the background) if there is none — or "1#<32 hex>", a
// connection by id: the same connection its worker's address
// "0#<32 hex>" names (what Connect returns, and what a receiver puts on
// return routes). Send consumes that address (Step) and queues the frame; it never
// waits for the network. A full queue refuses the message with
// ErrQueueFull. A message from the network may leave only as access
// control says (engine/access.go): the connection's link admits it, and
// a new dial needs the node's leave (engine.Host.AdmitDial). Safe for
// concurrent use; it does not allocate once the connection is open.
func (t *Transport) Send(m *wire.Message) error {
	typ, v, ok := m.Next()
	switch {
	case !ok:
		return t.refuse(m, wire.ErrEmptyRoute)
	case typ != t.typ:
		return t.refuse(m, t.errWrongType())
	case t.closed.Load():
		return t.refuse(m, ErrClosed)
	}
	var c *conn
	if isConnID(v) {
		if c = t.byID.load()[string(v)]; c == nil {
			return t.refuse(m, &ConnError{Conn: "0#" + string(v), Err: ErrNoConnection})
		}
	} else if c = t.byKey.load()[string(v)]; c == nil {
		if err := t.host.AdmitDial(m, t.typ, v); err != nil {
			return t.refuse(m, err)
		}
		var err error
		if c, err = t.dialAsync(string(v)); err != nil {
			return t.refuse(m, err)
		}
	}
	if err := c.link.Admit(m); err != nil {
		return t.refuse(m, err)
	}
	if err := m.Step(); err != nil {
		return t.refuse(m, err)
	}
	if m.OnwardLen() == 0 {
		// The peer would close the connection over it.
		return t.refuse(m, wire.ErrEmptyRoute)
	}
	return c.enqueue(m)
}

func (t *Transport) refuse(m *wire.Message, err error) error {
	t.stats.sendErr.Add(1)
	m.Release()
	return err
}

// isConnID reports whether an address value names a connection by id
// (32 hex digits) rather than host:port, which always has a colon, or a
// socket's path (a relative path of 32 hex digits is written "./<hex>").
func isConnID(v []byte) bool {
	if len(v) != 2*idLen {
		return false
	}
	for _, c := range v {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Connect dials hostport, waits for the handshake (up to
// Config.DialTimeout, then Config.HandshakeTimeout) and returns the
// address of the new connection's worker, "0#<32 hex>": a route that
// starts with it goes over this connection. Every call opens a new
// connection; the first one to a host:port is also the one routes
// through "1#host:port" use, if none was there.
//
// For a Unix transport hostport is the socket's path.
func (t *Transport) Connect(hostport string) (engine.Conn, error) {
	if err := t.checkAddr(hostport); err != nil {
		return nil, err
	}
	c, _, err := t.newDialed(hostport, false)
	if err != nil {
		return nil, err
	}
	t.dial(c) // counted in t.dials by newDialed
	// Once gnet has the socket, the connection's handshake timer bounds
	// the wait; a failed dial has closed it already.
	select {
	case <-c.ready:
		return c, nil
	case <-c.done:
		return nil, c.closeError()
	}
}

// dialAsync returns the connection routes use for key, creating it and
// dialing in the background if there is none. Called from Send: it must
// not wait for the network.
func (t *Transport) dialAsync(key string) (*conn, error) {
	if err := t.checkAddr(key); err != nil {
		return nil, err
	}
	c, created, err := t.newDialed(key, true)
	if created {
		go t.dial(c)
	}
	return c, err
}

// newDialed makes a connection to key and registers it. With reuse, an
// existing route connection for key is returned instead (created false).
// A new connection is counted in t.dials: whoever made it calls t.dial.
func (t *Transport) newDialed(key string, reuse bool) (c *conn, created bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return nil, false, ErrClosed
	}
	byKey := t.byKey.load()
	if old := byKey[key]; old != nil && reuse {
		return old, false, nil
	}
	c = t.newConn(key, nil)
	if byKey[key] == nil {
		t.byKey.put(key, c)
	}
	t.storeID(c.id, c)
	t.dials.Add(1)
	t.stats.dialed.Add(1)
	return c, true, nil
}

// dial connects c and hands the socket to gnet; OnOpen has run when it
// returns without error. It runs in its own goroutine (routes) or the
// caller's (Connect) and is counted in t.dials.
func (t *Transport) dial(c *conn) {
	defer t.dials.Done()
	d := net.Dialer{Timeout: t.cfg.DialTimeout}
	nc, err := d.DialContext(t.ctx, t.network, c.key)
	if err != nil {
		t.stats.dialErrors.Add(1)
		t.log.Warn("tcp: dial failed", "peer", c.key, "conn", c.addr.String(), "err", err)
		c.shutdown(closeLocal, &ConnError{Conn: c.addr.String(), Peer: c.key, Err: err})
		return
	}
	// EnrollContext dups the socket into gnet, closes nc and waits until
	// OnOpen has run on the loop that now owns it.
	_, err = t.client.EnrollContext(nc, c)
	if err == nil && !c.opened.Load() {
		err = errors.New("tcp: gnet did not open the connection") // its loop failed to register it
	}
	if err != nil {
		t.stats.dialErrors.Add(1)
		t.log.Warn("tcp: handing a dialed socket to gnet failed", "peer", c.key, "err", err)
		c.shutdown(closeLocal, &ConnError{Conn: c.addr.String(), Peer: c.key, Err: err})
	}
}

// storeID adds a connection to byID, which counts as open. Under t.mu.
func (t *Transport) storeID(id string, c *conn) {
	t.byID.put(id, c)
	t.stats.open.Add(1)
}

// forget removes c from the maps, so that the next send through its
// host:port dials again.
func (t *Transport) forget(c *conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.key != "" {
		t.byKey.drop(c.key, c)
	}
	if t.byID.drop(c.id, c) {
		t.stats.open.Add(-1)
	}
}

// Close stops the transport: dials under way are cancelled, listeners
// and connections close, queued messages are released. The node calls it
// when it closes; calling it again does nothing. It waits for the gnet
// loops to let go of the connections, so a handler (which may be running
// on one of them) must not call it: stop the node from a handler with
// node.Shutdown and a done context instead.
func (t *Transport) Close() error {
	t.closing.Do(t.close)
	return nil
}

func (t *Transport) close() {
	t.mu.Lock()
	t.closed.Store(true)
	ls := make([]*listener, 0, len(t.listeners))
	for l := range t.listeners {
		ls = append(ls, l)
	}
	t.mu.Unlock()

	t.cancel()
	<-t.swept
	t.dials.Wait() // no dial can hand a socket to the client after this
	for _, l := range ls {
		_ = l.Close()
	}
	// The gnet engine is shared: close this transport's connections on
	// it and wait for their OnClose. No new one can appear: dials are
	// over and listeners closed, and both check t.closed under t.mu.
	// One that never reached gnet is cleaned up at once.
	for _, c := range t.byID.load() {
		c.shutdown(closeLocal, ErrClosed)
		<-c.done
	}
	if err := t.eng.release(); err != nil {
		t.log.Warn("tcp: stopping gnet engine", "err", err)
	}
	t.flushers.Wait()
}

// sweep closes the connections whose current frame began more than
// Config.FrameTimeout ago, looking at them every sweepEvery. It is the
// transport's one goroutine for it: a frame costs no timer, only the
// time its reader publishes when it leaves a frame incomplete
// (conn.frameClock). It returns when t.ctx ends.
func (t *Transport) sweep() {
	defer close(t.swept)
	tick := time.NewTicker(sweepEvery(t.cfg.FrameTimeout))
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
			t.expireFrames(nanotime())
		}
	}
}

// sweepEvery is how often the sweeper looks: a quarter of the timeout,
// so a connection outlives it by at most that, between 10 ms and 1 s.
func sweepEvery(timeout time.Duration) time.Duration {
	return min(max(timeout/4, 10*time.Millisecond), time.Second)
}

// stallEvict is how long a frame must have had no new bytes before its
// connection may be closed to make room in the pending-frame budget.
const stallEvict = time.Second

// evictFor makes room in the pending-frame budget for n more bytes that
// c's reader needs, by closing the connections whose incomplete frames
// have had no new bytes for stallEvict or more — all of them, so that
// the frame that needed room can keep growing: a peer that stalls in the
// middle of a frame loses its place to one that is sending, not the
// other way round. It reports whether it made room; the n bytes are then
// counted. Slow path: only when the budget is full.
//
// An evicted connection's bytes come back when its reader closes, on its
// own loop, later; until then the budget's bound is raised by what it
// holds (budget.credit), so the frames of the others stay within the
// bound, and only they.
func (t *Transport) evictFor(c *conn, n int) bool {
	now := nanotime()
	for _, x := range t.byID.load() {
		if x == c || x.evicted.Load() || x.closed.Load() {
			continue
		}
		held, idle := x.frameHeld.Load(), now-x.frameMoved.Load()
		if held == 0 || idle < int64(stallEvict) {
			continue
		}
		err := &ConnError{Conn: x.addr.String(), Peer: x.peerName(), Err: ErrPendingBudget}
		if !x.setWhy(closeBudget, err) || !x.evicted.CompareAndSwap(false, true) {
			continue // closing already, or another reader took it
		}
		x.evictedHeld.Store(held)
		t.pending.credit.Add(held)
		t.stats.evicted.Add(1)
		x.shutdown(closeBudget, err)
	}
	return t.pending.take(n)
}

// expireFrames closes the connections whose frame began before
// now - Config.FrameTimeout, and counts them.
func (t *Transport) expireFrames(now int64) {
	limit := int64(t.cfg.FrameTimeout)
	for _, c := range t.byID.load() {
		since := c.frameSince.Load()
		if since == 0 || now-since < limit || c.closed.Load() {
			continue
		}
		err := &ConnError{Conn: c.addr.String(), Peer: c.peerName(), Err: ErrFrameTimeout}
		if c.setWhy(closeStall, err) { // not already closing for another reason
			t.stats.frameTimeouts.Add(1)
			c.shutdown(closeStall, err)
		}
	}
}
