package engine

import (
	"github.com/hopwire/hopwire/wire"
)

// Context is what a worker or the embedding program uses to send. A
// worker's Context is passed to HandleMessage and is only valid on the
// worker's loop, inside a handler or Shutdown. The embedding program's is
// an App's (Node.NewContext), used from ordinary goroutines: Send is safe
// for concurrent use; only an App receives (Receive, Request): a worker
// gets its messages through HandleMessage.
type Context struct {
	node      *Node
	self      wire.Address
	selfRoute wire.Route // [self]: the return route of what this context sends
	loop      *loop      // nil for an app context
	w         *worker
	cur       *wire.Message // the message being handled, lent to it, until it is handed on or kept
	appBox    *appBox       // non-nil for an app context
	hops      hopCache      // loop contexts only

	// App contexts' Request: its tags, made on the first, and the return
	// route of the request under way, [self, tag]. Request is for one
	// goroutine at a time.
	tags     *[reqTags]wire.Address
	reqRoute [2]wire.Address
	reqSeq   uint32
}

// Address returns the context's own (first) address.
func (c *Context) Address() wire.Address { return c.self }

// Node returns the node the context belongs to.
func (c *Context) Node() *Node { return c.node }

// Send sends a copy of payload along route, with this context's address as
// the return route. From an app context, a full mailbox makes Send wait up
// to Config.SendTimeout; from a worker it fails at once with
// ErrMailboxFull: a new message gives way to those already on their way
// (which Forward and Reply let wait), so a source is pushed back before
// any hop has to refuse.
func (c *Context) Send(route wire.Route, payload []byte) error {
	if c.appBox != nil && c.appBox.closed.Load() {
		return ErrContextClosed
	}
	var m *wire.Message
	var err error
	if c.loop != nil {
		m, err = c.loop.cache.Build(route, c.selfRoute, payload)
	} else {
		m, err = c.node.pool.Build(route, c.selfRoute, payload)
	}
	if err != nil {
		return err
	}
	return c.forward(m, send{fresh: c.loop != nil})
}

// Forward routes m by its first onward address. It takes m in every case:
// on error m has been released. From a worker, a full mailbox on another
// loop makes it wait up to Config.WorkerWait (see Config); from an app
// context, up to Config.SendTimeout.
func (c *Context) Forward(m *wire.Message) error {
	return c.forward(m, send{wait: c.node.cfg.WorkerWait})
}

// forward is Forward as Send or Forward asks: a worker's Send does not
// wait, its Forward waits WorkerWait; an app context waits SendTimeout
// either way.
func (c *Context) forward(m *wire.Message, how send) error {
	c.take(m)
	if c.appBox != nil && c.appBox.closed.Load() {
		m.Release()
		return ErrContextClosed
	}
	if m.FromNetwork() {
		if o := m.Meta(); o.Via != c.w.via {
			// The origin stays (access.go); who sent it on last changes.
			o.Via = c.w.via
			setMeta(m, o)
		}
	}
	if c.loop != nil {
		return c.node.route(c.loop, &c.hops, m, how)
	}
	n := c.node
	if !n.enter() {
		m.Release()
		return ErrClosed
	}
	how.wait = n.cfg.SendTimeout
	err := n.route(nil, nil, m, how)
	n.exit()
	return err
}

// Reply sends m back along its return route, with this context's address
// as the new return route and the payload (changed in place or not) kept
// where it is. It takes m in every case.
func (c *Context) Reply(m *wire.Message) error {
	if err := m.Turn(c.self); err != nil {
		c.take(m)
		c.node.stats.undeliverable.Add(1)
		m.Release()
		return err
	}
	return c.Forward(m)
}

// Keep takes over m, the message the worker is handling, past the
// handler: the engine does not release it when the handler returns. The
// worker owns it from then on, as it owns its state, and must hand it on
// (Forward, Reply) or Release it later, from one of its own handlers or
// its Shutdown: a portal keeps the chunks its peer has not acknowledged
// yet. Keep of any other message does nothing, since the worker already
// owns what it built or kept. Only a worker's handler calls it.
func (c *Context) Keep(m *wire.Message) { c.take(m) }

// take ends the engine's loan of m to the handler if m is the message
// being handled: the handler hands it on or keeps it, and from now on
// m's Release is the ordinary one.
func (c *Context) take(m *wire.Message) {
	if m == c.cur {
		c.cur = nil
		m.EndLoan()
	}
}

// StopWorker stops the worker at addr from inside a handler. A worker on
// the same loop stops before StopWorker returns; one on another loop stops
// when that loop gets to it.
func (c *Context) StopWorker(addr wire.Address) error {
	if c.loop == nil {
		return c.node.StopWorker(addr)
	}
	n := c.node
	wk := n.lookupAddr(addr)
	if wk == nil || !n.unregister(wk) {
		return &AddressError{Input: addr.String(), Err: ErrUnknownWorker}
	}
	switch {
	case wk.box != nil:
		wk.ctx.closeApp()
	case wk.direct != nil:
	case wk.loop == c.loop:
		wk.stop()
	default:
		wk.loop.post(wk.stop)
	}
	return nil
}

// nextHop remembers one resolution of a local address by a loop context,
// so a worker that keeps sending to the same next hops (a chain out and
// back, a reply to the same peer) skips the map lookup. It is valid while
// no name has stopped naming its worker since (registry.gone): a worker
// starting elsewhere leaves it good.
type nextHop struct {
	gone uint64 // the registry's gone when this was resolved
	w    *worker
	n    int
	name [32]byte // a connection worker's name is 32 hex digits
}

// nextHops is how many resolutions a hopCache remembers: a hop in a
// chain sends to two (the next one out and the previous one back).
const nextHops = 2

// hopCache remembers a sender's last resolutions of local addresses. It
// is not safe for concurrent use: one per loop context, one per Inbound.
type hopCache struct {
	hops   [nextHops]nextHop
	victim int // next entry to replace
}

// resolve finds the worker at the local name v.
func (hc *hopCache) resolve(n *Node, v []byte) *worker {
	gone := n.workers.gone.Load()
	for i := range hc.hops {
		h := &hc.hops[i]
		if h.gone == gone && h.n == len(v) && string(h.name[:h.n]) == string(v) {
			return h.w
		}
	}
	wk := n.workers.get(v)
	if wk != nil && len(v) <= len(hc.hops[0].name) {
		h := &hc.hops[hc.victim]
		hc.victim = (hc.victim + 1) % nextHops
		h.gone, h.w, h.n = gone, wk, copy(h.name[:], v)
	}
	return wk
}
