package tcp

import (
	"errors"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// reader reassembles frames from the byte stream. It is owned by the
// connection's gnet loop.
//
// A frame that arrives whole in one read — the common case — is copied
// once, from gnet's read buffer straight into the pooled message it will
// live in. A frame split over reads is read into memory as its bytes
// arrive, never reserved at the length its prefix declares: its message
// starts with room for what is there (at least minFill bytes) and grows
// by doubling as more comes (wire.Message.Resize), so each byte is
// copied at most a few times, and a peer that declares 16 MiB and sends
// a little holds a little. The bytes held by such frames count against
// the transport's budget (Config.MaxPendingBytes) until the frame is
// complete or the reader closes. Nothing is left in gnet's own inbound
// buffer to be copied there first; only a split length prefix (at most
// 3 bytes) is kept aside.
//
// The zero value is a reader waiting for the peer's hello, with no
// budget. It holds a pooled message only while a frame is being filled
// (cur); close gives it back.
type reader struct {
	hs     bool                // the peer's hello is in
	hello  [wire.HelloLen]byte // the peer's hello, as it comes in
	nhello int
	pre    [wire.FramePrefixLen]byte // a length prefix split over reads
	npre   int
	cur    *wire.Message // the frame being filled, or nil before its first body byte
	n      int           // the length of the frame being read, 0 if none: cur grows up to it
	filled int           // bytes of cur's Raw filled so far
	held   int           // bytes of cur counted in budget: its Len
	began  bool          // a frame began: its first byte came since this was last cleared

	budget *budget // bytes held by incomplete frames, shared by the transport's readers; nil: none
	evict  evictor // makes room in budget by closing stalled frames; nil: none
}

// evictor makes room for n bytes in a full budget and counts them, or
// reports false.
type evictor interface{ evict(n int) bool }

// minFill is the least room a split frame's message starts with (when
// the frame is that long): a peer that trickles bytes in does not make
// the message grow in tiny steps. With the headroom in front, the buffer
// is a 64 KiB size class.
const minFill = 64<<10 - wire.Headroom

// feed reassembles frames from b, the next bytes of the stream, taking
// messages from pool and refusing lengths over maxFrame. It copies out
// what it keeps, so b need only be valid until feed returns. Apart from
// pool.Alloc and the growth of a split frame's message it allocates only
// the error it returns.
//
// It calls handshake once, with the peer's hello, when it is in, and
// frame with each complete frame: a message from pool with Raw filled and
// not yet parsed, which frame owns from then on. Either returns false to
// stop: feed then returns nil at once, dropping the rest of b (the
// connection is closing).
//
// It returns a *wire.DecodeError for a malformed hello (wrapping
// wire.ErrBadHandshake: not a hopwire peer, or one of its first protocol)
// or a bad length prefix, or ErrPendingBudget when a split frame would
// take the budget past its bound; the stream cannot go on after any. On
// every return the reader holds no message other than a frame still
// being filled, and none after an error. Loop only.
func (r *reader) feed(pool *wire.Pool, maxFrame int, b []byte, handshake func(wire.Hello) bool, frame func(*wire.Message) bool) error {
	for len(b) > 0 {
		if !r.hs {
			k := copy(r.hello[r.nhello:], b)
			b, r.nhello = b[k:], r.nhello+k
			h, err := wire.ParseHello(r.hello[:r.nhello])
			if r.nhello < wire.HelloLen && errors.Is(err, wire.ErrTruncated) {
				return nil // the rest of the hello is still to come
			}
			if err != nil {
				return err
			}
			r.hs = true
			if !handshake(h) {
				return nil
			}
			continue
		}
		if r.n > 0 { // a frame is being read
			if r.cur == nil {
				// Its first body bytes: room for them now, not before.
				if err := r.start(pool, len(b)); err != nil {
					return err
				}
			}
			k, err := r.fill(b)
			if err != nil {
				r.drop()
				return err
			}
			b = b[k:]
			if r.filled < r.n {
				return nil
			}
			m := r.cur
			r.budget.give(r.held)
			r.cur, r.n, r.filled, r.held = nil, 0, 0, 0
			if !frame(m) {
				return nil
			}
			continue
		}
		if r.npre == 0 {
			r.began = true
		}
		var p []byte
		if r.npre == 0 && len(b) >= wire.FramePrefixLen {
			p, b = b[:wire.FramePrefixLen], b[wire.FramePrefixLen:]
		} else {
			k := copy(r.pre[r.npre:], b)
			b, r.npre = b[k:], r.npre+k
			if r.npre < wire.FramePrefixLen {
				return nil
			}
			r.npre, p = 0, r.pre[:]
		}
		n, err := wire.FrameLen(p, maxFrame)
		if err != nil {
			return err
		}
		if len(b) < n {
			// Split over reads: room for what is here when it is here
			// (above), filled and grown as the rest arrives. A prefix
			// alone holds nothing.
			r.n = n
			continue
		}
		m, err := pool.Alloc(n)
		if err != nil {
			return err
		}
		b = b[copy(m.Raw(), b):]
		if !frame(m) {
			return nil
		}
	}
	return nil
}

// start gives the frame being read (r.n bytes) a message once its first
// body bytes, have of them, are here: long enough for them, at least
// minFill and at most r.n, counted in the budget.
func (r *reader) start(pool *wire.Pool, have int) error {
	size := min(r.n, max(have, minFill))
	if !r.take(size) {
		r.n = 0
		return ErrPendingBudget
	}
	m, err := pool.Alloc(size)
	if err != nil {
		r.budget.give(size)
		r.n = 0
		return err
	}
	r.cur, r.filled, r.held = m, 0, size
	return nil
}

// take counts n more bytes in the budget, making room by evicting a
// stalled frame (r.evict) if there is none.
func (r *reader) take(n int) bool {
	return r.budget.take(n) || r.evict != nil && r.evict.evict(n)
}

// fill copies the next bytes of the frame being filled from b into cur,
// growing cur when they do not fit, and returns how many it took.
func (r *reader) fill(b []byte) (int, error) {
	k := min(len(b), r.n-r.filled)
	if want := r.filled + k; want > r.held {
		// Up to the end of cur's buffer if that holds them, else double.
		m := r.cur
		size := min(r.n, max(want, 2*r.held))
		if want <= m.Cap() {
			size = min(r.n, m.Cap())
		}
		if !r.take(size - r.held) {
			return 0, ErrPendingBudget
		}
		if err := m.Resize(size); err != nil { // cannot fail: size <= n <= the pool's max frame
			r.budget.give(size - r.held)
			return 0, err
		}
		r.held = size
	}
	copy(r.cur.Raw()[r.filled:], b[:k])
	r.filled += k
	return k, nil
}

// drop releases the frame being read and gives its bytes back to the
// budget.
func (r *reader) drop() {
	if r.cur != nil {
		r.cur.Release()
	}
	r.budget.give(r.held)
	r.cur, r.n, r.filled, r.held = nil, 0, 0, 0
}

// pending reports whether a frame has begun and is not complete, its
// length prefix included.
func (r *reader) pending() bool { return r.n > 0 || r.npre > 0 }

// close ends the stream: it releases a frame still being filled, gives
// its bytes back to the budget and resets the reader to a reader waiting
// for a hello with the same budget. It returns a
// *wire.DecodeError wrapping wire.ErrTruncated when the stream ended
// inside a frame, its length prefix included. Loop only.
func (r *reader) close() error {
	var err error
	switch {
	case r.n > 0:
		err = &wire.DecodeError{Offset: r.filled, Field: "frame", Err: wire.ErrTruncated}
		r.drop()
	case r.npre > 0:
		err = &wire.DecodeError{Offset: 0, Field: "frame length", Err: wire.ErrTruncated}
	}
	*r = reader{budget: r.budget, evict: r.evict}
	return err
}

// budget bounds the bytes held by incomplete frames over all of a
// transport's connections (Config.MaxPendingBytes). Safe for concurrent
// use; a nil budget bounds nothing.
type budget struct {
	max    int64
	held   atomic.Int64
	credit atomic.Int64 // what connections evicted and not yet closed hold: the bound is raised by it until they give it back
}

// take counts n more bytes held, or reports false and counts nothing if
// that would pass the bound.
func (b *budget) take(n int) bool {
	if b == nil {
		return true
	}
	if b.held.Add(int64(n)) > b.max+b.credit.Load() {
		b.held.Add(-int64(n))
		return false
	}
	return true
}

// give counts n bytes no longer held.
func (b *budget) give(n int) {
	if b != nil && n != 0 {
		b.held.Add(-int64(n))
	}
}

// onTraffic runs on the gnet loop when bytes arrive.
func (c *conn) onTraffic(gc gnet.Conn) gnet.Action {
	// Next(-1) returns everything buffered. Because every call consumes
	// all of it, gnet's inbound buffer stays empty and Next returns a view
	// of the loop's read buffer without copying; it is valid until this
	// call returns, which is why feed copies each frame out.
	buf, _ := gc.Next(-1)
	c.reads.Store(c.reads.Load() + 1) // before feed: what it sends is a reply
	act := gnet.None
	err := c.rd.feed(c.t.pool, c.t.maxFrame, buf,
		func(h wire.Hello) bool {
			_, caps, err := wire.Negotiate(c.t.hello, h)
			if err != nil {
				c.t.stats.badVersion.Add(1)
				c.setWhy(closeVersion, err)
				act = gnet.Close
				return false
			}
			c.codec = wire.Settle(caps)
			act = c.handshake(gc)
			return act == gnet.None
		},
		func(m *wire.Message) bool { act = c.receive(m); return act == gnet.None })
	c.frameClock()
	switch {
	case err == nil:
		return act
	case errors.Is(err, wire.ErrBadHandshake):
		c.t.stats.badVersion.Add(1)
		c.setWhy(closeVersion, err)
		return gnet.Close
	case errors.Is(err, ErrPendingBudget):
		c.t.stats.overBudget.Add(1)
		c.setWhy(closeBudget, &ConnError{Conn: c.addr.String(), Peer: c.peer, Err: err})
		return gnet.Close
	default:
		return c.protocolError(closeFrame, err)
	}
}

// frameClock publishes, for the transport's sweeper (Config.FrameTimeout)
// and for eviction (Transport.evictFor), when the frame the reader is in
// the middle of began (0 when none is pending), when bytes of it last
// came, and what it holds of the budget. A frame that comes whole costs
// no clock read. Loop only.
func (c *conn) frameClock() {
	switch {
	case c.rd.pending():
		now := nanotime()
		if c.rd.began {
			c.frameSince.Store(now)
		}
		c.frameMoved.Store(now)
		c.frameHeld.Store(int64(c.rd.held))
	case c.frameSince.Load() != 0:
		c.frameSince.Store(0)
		c.frameHeld.Store(0)
	}
	c.rd.began = false
}

// receive checks a whole frame and hands it to the node.
func (c *conn) receive(m *wire.Message) gnet.Action {
	c.io.MsgsIn.Add(1)
	c.io.BytesIn.Add(uint64(m.Len()))
	if err := m.Parse(); err != nil {
		m.Release()
		return c.protocolError(closeFrame, err)
	}
	if f := m.Flags(); f&wire.FlagCompressed != 0 && c.codec != wire.Plain {
		wireLen := m.Len()
		d, err := c.codec.Decompress(m) // owns m
		if err != nil {
			c.t.stats.badCodec.Add(1)
			c.setWhy(closeCodec, err)
			return gnet.Close
		}
		m = d
		c.io.SavedIn.Add(uint64(m.Len() - wireLen))
	} else if f&^wire.FlagError != 0 {
		// No flag but FlagCompressed has a meaning, and it only where the
		// connection settled on a codec; FlagError (a refusal notice)
		// needs no negotiation.
		m.Release()
		return c.protocolError(closeFrame, errFlagsNotNegotiated)
	}
	if m.OnwardLen() == 0 {
		m.Release()
		return c.protocolError(closeRoute, wire.ErrEmptyRoute)
	}
	if err := m.PrependReturn(c.addr); err != nil {
		m.Release()
		return c.protocolError(closeRoute, err)
	}
	if err := c.in.Deliver(c.link, m); err != nil { // Deliver owns m, on error too
		if errors.Is(err, engine.ErrDenied) {
			c.t.stats.denied.Add(1)
			c.warn("tcp: denied message from the network", err)
		} else if !errors.Is(err, engine.ErrClosed) {
			c.t.stats.undeliverable.Add(1)
			c.warn("tcp: undeliverable message from the network", err)
		}
	}
	return gnet.None
}

// protocolError records why the connection must close, counts it, and
// returns the action that closes it. OnClose logs it.
func (c *conn) protocolError(kind closeKind, err error) gnet.Action {
	switch kind {
	case closeFrame:
		c.t.stats.badFrame.Add(1)
	case closeRoute:
		c.t.stats.badRoute.Add(1)
	}
	c.setWhy(kind, err)
	return gnet.Close
}

// warn logs a per-message problem, at most one line a second per
// message (the cause) over all the transport's connections; every one is
// counted by the caller. msg must be a constant. Loop only.
func (c *conn) warn(msg string, err error) {
	if n, ok := c.t.warns.Get(msg).Allow(); ok {
		c.t.log.Warn(msg, "conn", c.addr.String(), "peer", c.peer, "flow", c.link.Flow(), "err", err, "suppressed", n)
	}
}
