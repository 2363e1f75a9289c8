package tcp

import (
	"errors"
	"fmt"
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
type reader struct {
	hs     bool                      // the peer's version byte is in
	pre    [wire.FramePrefixLen]byte // a length prefix split over reads
	npre   int
	cur    *wire.Message // the frame being filled, or nil
	filled int           // bytes of cur's Raw filled so far
}

// warnEvery rate-limits per-message warnings (denied, undeliverable) per
// connection; every one is counted.
const warnEvery = time.Second

// onTraffic runs on the gnet loop when bytes arrive.
func (c *conn) onTraffic(gc gnet.Conn) gnet.Action {
	// Next(-1) returns everything buffered. Because every call consumes
	// all of it, gnet's inbound buffer stays empty and Next returns a view
	// of the loop's read buffer without copying; it is valid until this
	// call returns, which is why each frame is copied out below.
	buf, _ := gc.Next(-1)
	r := &c.rd
	for len(buf) > 0 {
		if !r.hs {
			if v := buf[0]; v != wire.Version {
				c.t.stats.badVersion.Add(1)
				c.setWhy(closeVersion, fmt.Errorf("%w: peer sent %d, want %d", wire.ErrBadVersion, v, wire.Version))
				return gnet.Close
			}
			buf = buf[1:]
			r.hs = true
			if a := c.handshake(gc); a != gnet.None {
				return a
			}
			continue
		}
		if m := r.cur; m != nil {
			raw := m.Raw()
			k := copy(raw[r.filled:], buf)
			buf, r.filled = buf[k:], r.filled+k
			if r.filled < len(raw) {
				break
			}
			r.cur = nil
			if a := c.receive(m); a != gnet.None {
				return a
			}
			continue
		}
		var p []byte
		if r.npre == 0 && len(buf) >= wire.FramePrefixLen {
			p, buf = buf[:wire.FramePrefixLen], buf[wire.FramePrefixLen:]
		} else {
			k := copy(r.pre[r.npre:], buf)
			buf, r.npre = buf[k:], r.npre+k
			if r.npre < wire.FramePrefixLen {
				break
			}
			r.npre, p = 0, r.pre[:]
		}
		n, err := wire.FrameLen(p, c.t.maxFrame)
		if err != nil {
			return c.protocolError(closeFrame, err)
		}
		m, err := c.t.pool.Alloc(n)
		if err != nil {
			return c.protocolError(closeFrame, err)
		}
		k := copy(m.Raw(), buf)
		buf = buf[k:]
		if k < n {
			r.cur, r.filled = m, k
			break
		}
		if a := c.receive(m); a != gnet.None {
			return a
		}
	}
	return gnet.None
}

// receive checks a whole frame and hands it to the node.
func (c *conn) receive(m *wire.Message) gnet.Action {
	if err := m.Parse(); err != nil {
		m.Release()
		return c.protocolError(closeFrame, err)
	}
	if m.OnwardLen() == 0 {
		m.Release()
		return c.protocolError(closeRoute, wire.ErrEmptyRoute)
	}
	if err := m.PrependReturn(c.addr); err != nil {
		m.Release()
		return c.protocolError(closeRoute, err)
	}
	m.Meta.Flow = c.flow
	if err := c.t.node.Deliver(m); err != nil { // Deliver owns m, on error too
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
	c.t.log.Warn(msg, "conn", c.addr.String(), "peer", c.peer, "flow", c.flow, "err", err)
}
