package tcp

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/internal/traffic"
	"github.com/hopwire/hopwire/wire"
)

// idLen is the number of random bytes in a connection id; its text is
// twice as many hex digits.
const idLen = 16

// conn is one TCP connection. Three parties touch it:
//
//   - its gnet event loop owns the read side (rd), the gnet.Conn's
//     loop-only methods, and the lifecycle events (OnOpen, OnTraffic,
//     OnClose);
//   - senders (event loops of the node, app goroutines) queue frames on
//     the write side (out) from any goroutine, and whichever holds the
//     writer role writes them (see send.go);
//   - the node runs its connection worker at 0#id.
//
// State moves one way: dialing/opening -> open (handshake done, writes
// allowed) -> closed.
type conn struct {
	t    *Transport
	in   *engine.Inbound // delivers what the connection's gnet loop reads
	id   string          // 32 hex digits
	addr wire.Address    // 0#id: the connection worker
	key  string          // host:port (a path, Unix) for a dialed connection: its routing key; "" if accepted
	link *engine.Link    // its flow, what it may carry (access control)
	lis  *listener       // the listener that accepted it; nil if dialed

	// Set on the gnet loop in OnOpen: gc and peer before opened is
	// stored, the rest before open is. Other goroutines read them only
	// after loading that flag as true.
	gc     gnet.Conn
	peer   string      // remote host:port (Transport.peerAddr)
	wfd    *wfd        // our dup of the socket: the write side's own descriptor
	worker bool        // the connection worker is running
	hsTime *time.Timer // closes the connection if the handshake takes too long

	opened atomic.Bool // OnOpen ran: gnet owns the socket, closing goes through gc.Close
	open   atomic.Bool // handshake done: frames may be written
	closed atomic.Bool // no more sends; queued frames are dropped

	codec wire.Codec // settled in the handshake, before open is stored; read after loading open as true

	zskip wire.Skipper // when to try compressing (enqueue)

	ready     chan struct{} // closed when the handshake is done
	done      chan struct{} // closed when the connection is closed and cleaned up
	cleanOnce sync.Once

	whyMu    sync.Mutex
	whyKind  closeKind
	whyError error

	reads       atomic.Uint32 // onTraffic calls, for the writer's burst test (send.go); written by the gnet loop only
	rd          reader        // gnet loop only
	frameSince  atomic.Int64  // nanotime when the frame rd is in the middle of began, 0 if none; written by the gnet loop only
	frameMoved  atomic.Int64  // nanotime when bytes of that frame last came; written by the gnet loop only
	frameHeld   atomic.Int64  // bytes of the budget that frame holds; written by the gnet loop only
	evicted     atomic.Bool   // closed to make room in the budget (Transport.evictFor)
	evictedHeld atomic.Int64  // what it held then

	out     outbound
	io      traffic.Counters // what it carried (Stats)
	errFull *ConnError       // ErrQueueFull for this connection, made once: a full queue is a hot path
}

// A dialed connection is its owner's engine.Conn (Transport.Connect).

// Addr returns the connection's worker address, 0#<32 hex>: a route
// through it leaves the node over the connection.
func (c *conn) Addr() wire.Address { return c.addr }

// Flow returns the connection's own flow, for node.Allow.
func (c *conn) Flow() uint64 { return c.link.Flow() }

// Done is closed when the connection has closed and been cleaned up.
func (c *conn) Done() <-chan struct{} { return c.done }

// Close closes the connection; frames still queued on it are dropped and
// counted. It does not wait (a handler may be running on the connection's
// own gnet loop, which finishes the close): Done says when it is over.
func (c *conn) Close() error {
	c.shutdown(closeLocal, ErrClosed)
	return nil
}

// closeKind says why a connection closed, for logs and counters.
type closeKind uint8

const (
	closeNone    closeKind = iota // the peer closed it, or the transport did
	closeLocal                    // a local decision: dial failure, timeout, shutdown
	closeIO                       // a read or write error
	closeVersion                  // the peer's handshake was wrong or shared no version
	closeFrame                    // a bad length prefix or undecodable message
	closeRoute                    // an empty onward route, or a return route already full
	closeTrunc                    // the peer closed in the middle of a frame
	closeSilent                   // the peer sent no handshake in time
	closeSlow                     // the peer left its queue congested for Config.SlowConsumerTimeout
	closeStall                    // a frame was not complete within Config.FrameTimeout
	closeBudget                   // a frame would have passed Config.MaxPendingBytes
	closeCodec                    // a compressed payload that did not decode, or declared too much
)

var closeKindText = [...]string{"closed", "local", "i/o error", "bad handshake", "bad frame", "bad route", "truncated frame", "handshake timeout",
	"slow consumer", "frame timeout", "pending-frame budget exceeded", "bad compressed payload"}

// newConn makes a connection: dialed to key, or accepted by lis.
func (t *Transport) newConn(key string, lis *listener) *conn {
	var b [idLen]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail on supported platforms
	id := hex.EncodeToString(b[:])
	local, _ := wire.NewAddress(wire.Local, id)
	c := &conn{
		t:     t,
		in:    t.host.NewInbound(),
		id:    id,
		addr:  local,
		key:   key,
		lis:   lis,
		ready: make(chan struct{}),
		done:  make(chan struct{}),
	}
	if lis != nil {
		c.link = t.host.NewLink(lis.flow, false)
	} else {
		c.link = t.host.NewLink(t.dialedFlow, true)
	}
	c.rd.budget = &t.pending
	c.rd.evict = c
	c.out.init(c, t.cfg.QueueLen, t.cfg.QueueBytes)
	c.errFull = &ConnError{Conn: local.String(), Peer: key, Err: ErrQueueFull}
	return c
}

// evict makes room in the pending-frame budget for the connection's
// reader (Transport.evictFor).
func (c *conn) evict(n int) bool { return c.t.evictFor(c, n) }

// onOpen runs on the gnet loop when gnet takes the socket. It returns the
// hello for gnet to write first.
func (c *conn) onOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	c.gc = gc
	c.peer = c.t.peerAddr(gc.RemoteAddr(), c.lis)
	c.opened.Store(true)
	if c.t.closed.Load() {
		c.setWhy(closeLocal, ErrClosed)
		return nil, gnet.Close
	}
	if c.t.network == "tcp" {
		_ = gc.SetNoDelay(true) // gnet sets it already; say so here too
	}
	fd, err := gc.Dup()
	if err != nil {
		c.setWhy(closeLocal, err)
		return nil, gnet.Close
	}
	c.wfd = &wfd{fd: fd}
	// The engine asks the connection's link before it hands the worker a
	// message (engine/access.go): a reply to what came in over it, a
	// reply path it was granted, local traffic, or the hop bridging onto
	// a connection this node dialed.
	if err := c.t.host.StartDirect(connWorker{c}, c.link, c.addr); err != nil {
		c.setWhy(closeLocal, err)
		return nil, gnet.Close
	}
	c.worker = true
	c.hsTime = time.AfterFunc(c.t.cfg.HandshakeTimeout, c.handshakeExpired)
	return c.t.helloB, gnet.None
}

// handshakeExpired runs on a timer's goroutine when the peer's hello did
// not come in time.
func (c *conn) handshakeExpired() {
	if c.open.Load() || c.closed.Load() {
		return
	}
	c.t.stats.silent.Add(1)
	c.shutdown(closeSilent, &ConnError{Conn: c.addr.String(), Peer: c.peerName(), Err: ErrHandshake})
}

// handshake runs on the gnet loop when the peer's hello is in and the
// two have settled.
func (c *conn) handshake(gc gnet.Conn) gnet.Action {
	// Frames go out through our own descriptor, past gnet's buffer: the
	// hello must not still be waiting there.
	if gc.OutboundBuffered() != 0 {
		if err := gc.Flush(); err != nil || gc.OutboundBuffered() != 0 {
			c.setWhy(closeLocal, errors.New("tcp: hello not sent"))
			return gnet.Close
		}
	}
	c.hsTime.Stop()
	c.open.Store(true)
	c.link.Describe(c.t.typ, c.addr, c.peerName())
	close(c.ready)
	c.kick() // frames queued while connecting
	return gnet.None
}

// onClose runs on the gnet loop when gnet closes the socket, for
// whatever reason; err is gnet's (io.EOF when the peer closed).
func (c *conn) onClose(err error) {
	if err := c.rd.close(); err != nil && c.setWhy(closeTrunc, err) {
		c.t.stats.trunc.Add(1)
	}
	if c.evicted.Load() {
		c.t.pending.credit.Add(-c.evictedHeld.Load()) // its bytes are back
	}
	kind, why := c.why()
	if kind == closeNone && err != nil && !errors.Is(err, io.EOF) {
		kind, why = closeIO, err
	}
	if kind < closeIO {
		c.t.log.Debug("tcp: connection closed", "conn", c.addr.String(), "peer", c.peer,
			"reason", closeKindText[kind], "err", why)
	} else if n, ok := c.t.closeLogs[kind].Allow(); ok {
		// The peer's doing, or the network's: one line a second per
		// reason, however many connections.
		c.t.log.Warn("tcp: connection closed", "conn", c.addr.String(), "peer", c.peer,
			"reason", closeKindText[kind], "err", why, "suppressed", n)
	}
	c.cleanup()
}

// shutdown closes the connection from any goroutine, recording why.
func (c *conn) shutdown(kind closeKind, err error) {
	c.setWhy(kind, err)
	c.closed.Store(true)
	if c.opened.Load() {
		_ = c.gc.Close() // concurrency-safe; OnClose cleans up on the loop
		return
	}
	c.cleanup()
}

// cleanup is the end of a connection: it runs once, on the gnet loop
// from OnClose, or for a connection gnet never had, wherever it failed.
func (c *conn) cleanup() {
	c.cleanOnce.Do(func() {
		c.closed.Store(true)
		if c.hsTime != nil {
			c.hsTime.Stop()
		}
		if c.lis != nil {
			c.lis.conns.Add(-1)
		}
		c.t.closedIO.Add(&c.io) // before forget: Stats may count it twice for a moment, never not at all
		c.t.forget(c)
		if c.worker {
			_ = c.t.host.Node().StopWorker(c.addr)
		}
		c.link.Close() // revokes the connection's flow: what it was allowed and granted
		c.out.shut()
		if c.wfd != nil {
			c.wfd.close() // waits for a writev under way
		}
		close(c.done)
		c.kick() // drop whatever is queued
	})
}

// setWhy records the first reason the connection closes and reports
// whether this one was it.
func (c *conn) setWhy(kind closeKind, err error) bool {
	c.whyMu.Lock()
	defer c.whyMu.Unlock()
	if c.whyKind != closeNone || c.whyError != nil {
		return false
	}
	c.whyKind, c.whyError = kind, err
	return true
}

func (c *conn) why() (closeKind, error) {
	c.whyMu.Lock()
	defer c.whyMu.Unlock()
	return c.whyKind, c.whyError
}

// closeError is what a caller waiting on the connection gets when it
// closed before it was ready.
func (c *conn) closeError() error {
	_, err := c.why()
	if err == nil {
		err = ErrConnClosed
	}
	var ce *ConnError
	if errors.As(err, &ce) {
		return err
	}
	return &ConnError{Conn: c.addr.String(), Peer: c.peerName(), Err: err}
}

// peerName is the peer's address for messages from other goroutines.
func (c *conn) peerName() string {
	if c.opened.Load() {
		return c.peer
	}
	return c.key
}

// connWorker is the connection's worker, at 0#id. A message whose route
// starts with it leaves the node over the connection. It is an
// engine.Direct receiver: the sender's goroutine steps 0#id off and queues
// the frame (and usually writes it), with no hop through an event loop.
type connWorker struct{ c *conn }

// Take sends m over the connection. It owns m, on error too.
func (w connWorker) Take(m *wire.Message) error {
	if err := m.Step(); err != nil {
		return w.c.t.refuse(m, err)
	}
	if m.OnwardLen() == 0 {
		// The peer would close the connection over it.
		return w.c.t.refuse(m, wire.ErrEmptyRoute)
	}
	return w.c.enqueue(m)
}
