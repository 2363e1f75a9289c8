package tcp

import (
	"errors"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// reader reassembles frames from the byte stream. It is owned by the
// connection's gnet loop.
//
// Every byte of a message is copied once, from gnet's read buffer
// straight into the pooled message it will live in: a frame split over
// reads is allocated at its full length when its prefix is in and filled
// as the rest arrives, so nothing is left in gnet's own inbound buffer to
// be copied there first. Only a split length prefix (at most 3 bytes) is
// kept aside.
//
// The zero value is a reader waiting for the peer's hello. It holds a
// pooled message only while a frame is being filled (cur); close gives it
// back.
type reader struct {
	hs     bool                // the peer's hello is in
	hello  [wire.HelloLen]byte // the peer's hello, as it comes in
	nhello int
	pre    [wire.FramePrefixLen]byte // a length prefix split over reads
	npre   int
	cur    *wire.Message // the frame being filled, or nil
	filled int           // bytes of cur's Raw filled so far
}

// feed reassembles frames from b, the next bytes of the stream, taking
// messages from pool and refusing lengths over maxFrame. It copies out
// what it keeps, so b need only be valid until feed returns. Apart from
// pool.Alloc it allocates only the error it returns.
//
// It calls handshake once, with the peer's hello, when it is in, and
// frame with each complete frame: a message from pool with Raw filled and
// not yet parsed, which frame owns from then on. Either returns false to
// stop: feed then returns nil at once, dropping the rest of b (the
// connection is closing).
//
// It returns a *wire.DecodeError for a malformed hello (wrapping
// wire.ErrBadHandshake: not a hopwire peer, or one of its first protocol)
// or a bad length prefix; the stream cannot go on after either. On every
// return the reader holds no message other than a frame still being
// filled. Loop only.
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
		if m := r.cur; m != nil {
			raw := m.Raw()
			k := copy(raw[r.filled:], b)
			b, r.filled = b[k:], r.filled+k
			if r.filled < len(raw) {
				return nil
			}
			r.cur, r.filled = nil, 0
			if !frame(m) {
				return nil
			}
			continue
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
		m, err := pool.Alloc(n)
		if err != nil {
			return err
		}
		k := copy(m.Raw(), b)
		b = b[k:]
		if k < n {
			r.cur, r.filled = m, k
			return nil
		}
		if !frame(m) {
			return nil
		}
	}
	return nil
}

// close ends the stream: it releases a frame still being filled and
// resets the reader to its zero value. It returns a *wire.DecodeError
// wrapping wire.ErrTruncated when the stream ended inside a frame, its
// length prefix included. Loop only.
func (r *reader) close() error {
	var err error
	switch {
	case r.cur != nil:
		r.cur.Release()
		err = &wire.DecodeError{Offset: r.filled, Field: "frame", Err: wire.ErrTruncated}
	case r.npre > 0:
		err = &wire.DecodeError{Offset: 0, Field: "frame length", Err: wire.ErrTruncated}
	}
	*r = reader{}
	return err
}

// warnEvery rate-limits per-message warnings (denied, undeliverable) per
// connection; every one is counted.
const warnEvery = time.Second

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
			if _, _, err := wire.Negotiate(wire.LocalHello(0), h); err != nil {
				c.t.stats.badVersion.Add(1)
				c.setWhy(closeVersion, err)
				act = gnet.Close
				return false
			}
			act = c.handshake(gc)
			return act == gnet.None
		},
		func(m *wire.Message) bool { act = c.receive(m); return act == gnet.None })
	switch {
	case err == nil:
		return act
	case errors.Is(err, wire.ErrBadHandshake):
		c.t.stats.badVersion.Add(1)
		c.setWhy(closeVersion, err)
		return gnet.Close
	default:
		return c.protocolError(closeFrame, err)
	}
}

// receive checks a whole frame and hands it to the node.
func (c *conn) receive(m *wire.Message) gnet.Action {
	if err := m.Parse(); err != nil {
		m.Release()
		return c.protocolError(closeFrame, err)
	}
	if m.Flags() != 0 {
		// No capability that gives a flag a meaning was negotiated.
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

// warn logs a per-message problem, at most once per warnEvery per
// connection. Loop only.
func (c *conn) warn(msg string, err error) {
	now := nanotime()
	if now-c.lastLog < int64(warnEvery) && c.lastLog != 0 {
		return
	}
	c.lastLog = now
	c.t.log.Warn(msg, "conn", c.addr.String(), "peer", c.peer, "flow", c.link.Flow(), "err", err)
}
