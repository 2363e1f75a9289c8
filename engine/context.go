package engine

import (
	"github.com/hopwire/hopwire/wire"
)

// Context is what a worker or the embedding program uses to send and
// receive. A worker's Context is passed to HandleMessage and is only valid
// on the worker's loop, inside a handler or Shutdown. An app Context (from
// Node.NewContext) is used from ordinary goroutines: Send is safe for
// concurrent use; Receive and Request are for one goroutine at a time.
type Context struct {
	node      *Node
	self      wire.Address
	selfRoute wire.Route // [self]: the return route of what this context sends
	loop      *loop      // nil for an app context
	w         *worker
	cur       *wire.Message // the message being handled until it is handed on
	appBox    *appBox       // non-nil for an app context
}

// Address returns the context's own (first) address.
func (c *Context) Address() wire.Address { return c.self }

// Node returns the node the context belongs to.
func (c *Context) Node() *Node { return c.node }

// Send sends a copy of payload along route, with this context's address as
// the return route. From an app context, a full mailbox makes Send wait up
// to Config.SendTimeout; from a worker it fails at once with
// ErrMailboxFull, because waiting would stall the loop.
func (c *Context) Send(route wire.Route, payload []byte) error {
	m, err := c.node.pool.Build(route, c.selfRoute, payload)
	if err != nil {
		return err
	}
	return c.Forward(m)
}

// Forward routes m by its first onward address. It takes m in every case:
// on error m has been released.
func (c *Context) Forward(m *wire.Message) error {
	if m == c.cur {
		c.cur = nil
	}
	m.Meta.Flow = 0 // the worker sends it on: local traffic now (see Allow)
	if c.loop != nil {
		return c.node.route(c.loop, m, 0)
	}
	n := c.node
	if !n.enter() {
		m.Release()
		return ErrClosed
	}
	err := n.route(nil, m, n.cfg.SendTimeout)
	n.exit()
	return err
}

// Reply sends m back along its return route, with this context's address
// as the new return route and the payload (changed in place or not) kept
// where it is. It takes m in every case.
func (c *Context) Reply(m *wire.Message) error {
	if err := m.Turn(c.self); err != nil {
		if m == c.cur {
			c.cur = nil
		}
		c.node.stats.undeliverable.Add(1)
		m.Release()
		return err
	}
	return c.Forward(m)
}

// StopWorker stops the worker at addr from inside a handler. A worker on
// the same loop stops before StopWorker returns; one on another loop stops
// when that loop gets to it.
func (c *Context) StopWorker(addr string) error {
	if c.loop == nil {
		return c.node.StopWorker(addr)
	}
	n := c.node
	wk := n.lookupText(addr)
	if wk == nil || !n.unregister(wk) {
		return &AddressError{Addr: addr, Err: ErrUnknownWorker}
	}
	switch {
	case wk.box != nil:
		wk.ctx.closeApp()
	case wk.loop == c.loop:
		wk.stop()
	default:
		wk.loop.post(wk.stop)
	}
	return nil
}
