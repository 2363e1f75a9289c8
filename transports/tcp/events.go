package tcp

import (
	"github.com/panjf2000/gnet/v2"
)

// events is the gnet.EventHandler of the process's shared gnet engines
// (shared.go). gnet calls OnOpen, OnTraffic and OnClose on the event
// loop that owns the connection, one call at a time per loop; a
// connection never moves between loops. Each connection's *conn, of
// whichever transport, rides in the gnet.Conn's context (set by
// EnrollContext; Context is loop only).
type events struct {
	gnet.BuiltinEventEngine
}

// OnOpen runs when gnet has registered a socket with a loop: handed over
// by Transport.dial or a listener's accept (EnrollContext, which put the
// *conn in the context and waits for this call).
func (h *events) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	c, _ := gc.Context().(*conn)
	if c == nil {
		return nil, gnet.Close // cannot happen: every socket carries its conn
	}
	return c.onOpen(gc)
}

// OnTraffic runs when bytes arrived (or a Wake asked for it).
func (h *events) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil {
		return gnet.Close
	}
	return c.onTraffic(gc)
}

// OnClose runs once per opened socket, whoever closed it, before gnet
// closes its descriptor; when an engine stops it closes every socket.
func (h *events) OnClose(gc gnet.Conn, err error) gnet.Action {
	if c, _ := gc.Context().(*conn); c != nil {
		c.onClose(err)
	}
	return gnet.None
}

// accept makes the conn of a socket a listener accepted.
func (t *Transport) accept(l *listener) (*conn, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return nil, ErrClosed
	}
	c := t.newConn("", l)
	l.conns.Add(1) // and cleanup takes it off
	t.storeID(c.id, c)
	t.stats.accepted.Add(1)
	return c, nil
}
