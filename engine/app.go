package engine

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hopwire/hopwire/ring"
	"github.com/hopwire/hopwire/wire"
)

// appBox is an app context's mailbox: loops push, one app goroutine pops.
type appBox struct {
	q       *ring.MPSC[*wire.Message]
	popMu   sync.Mutex   // the ring has one consumer: Receive, or Close's sweep
	pushers atomic.Int32 // pushes under way, so Close's sweep misses none
	waiting atomic.Bool
	signal  chan struct{} // capacity 1
	timer   *time.Timer
	closed  atomic.Bool
	bounced bounces // why messages this context sent were dropped (bounce.go)
}

// App is a context for the embedding program, from ordinary goroutines:
// it sends as a worker's Context does (Send is safe for concurrent use)
// and, unlike a worker's, receives: Receive and Request, for one
// goroutine at a time. Close it when done (the node closes it on
// shutdown).
type App struct {
	Context
}

// NewContext returns an app context at the local address addr, for the
// embedding program to send from and receive at.
func (n *Node) NewContext(addr wire.Address) (*App, error) {
	box := &appBox{
		q:      ring.NewMPSC[*wire.Message](n.cfg.MailboxSize),
		signal: make(chan struct{}, 1),
	}
	wk, err := n.register(&worker{box: box}, []wire.Address{addr})
	if err != nil {
		return nil, err
	}
	return wk.app, nil
}

func (b *appBox) push(m *wire.Message) bool {
	b.pushers.Add(1)
	ok := !b.closed.Load() && b.q.Push(m)
	b.pushers.Add(-1)
	if !ok {
		return false
	}
	b.wake()
	return true
}

// wake wakes the receiver if it waits.
func (b *appBox) wake() {
	if b.waiting.Load() && b.waiting.CompareAndSwap(true, false) {
		select {
		case b.signal <- struct{}{}:
		default:
		}
	}
}

// Receive returns the next message for this app context, waiting up to
// timeout (< 0: forever). The caller owns the message and must Release
// it. A message this context sent that was dropped on its way off the
// node (Host.Bounce) comes back as a *BounceError saying why; a refusal
// notice from a node on the way (wire.FlagError) as a *RefusedError with
// its text, the notice released. Only an app context can receive: a
// worker gets its messages through HandleMessage.
func (a *App) Receive(timeout time.Duration) (*wire.Message, error) {
	c := &a.Context
	b := c.appBox
	if e := b.bounced.pop(); e != nil {
		return nil, e
	}
	if m, ok := b.pop(); ok {
		return received(m)
	}
	var expired <-chan time.Time
	if timeout >= 0 {
		if b.timer == nil {
			b.timer = time.NewTimer(timeout)
		} else {
			b.timer.Reset(timeout)
		}
		defer b.timer.Stop()
		expired = b.timer.C
	}
	for {
		b.waiting.Store(true)
		if e := b.bounced.pop(); e != nil {
			b.waiting.Store(false)
			return nil, e
		}
		if m, ok := b.pop(); ok {
			b.waiting.Store(false)
			return received(m)
		}
		select {
		case <-b.signal:
		case <-expired:
			b.waiting.Store(false)
			return nil, ErrTimeout
		case <-c.node.done:
			b.waiting.Store(false)
			return nil, ErrClosed
		}
		if e := b.bounced.pop(); e != nil {
			return nil, e
		}
		if m, ok := b.pop(); ok {
			return received(m)
		}
	}
}

// received hands the receiver m, or the *RefusedError m says if it is a
// refusal notice (which it releases).
func received(m *wire.Message) (*wire.Message, error) {
	if m.Flags()&wire.FlagError != 0 {
		return nil, refused(m)
	}
	return m, nil
}

func (b *appBox) pop() (*wire.Message, bool) {
	b.popMu.Lock()
	m, ok := b.q.Pop()
	b.popMu.Unlock()
	return m, ok
}

// Request sends payload along route and waits up to timeout for its
// reply, or for word that the request was dropped: on its way off the
// node (a *BounceError: a dial that failed, a connection that closed), or
// by a node on the way (a *RefusedError: no such worker, access denied, a
// dial that node may not make). The
// request's return route is [this context, a tag] (a local
// address "~req-NN" that names the request, never routed to), so a reply
// along the return route comes back with the tag behind the context's
// address: a reply that carries the tag of an earlier request (it came
// after that request timed out) is released and counted
// (Stats.StaleReplies), not taken for this one's; so is a refusal notice
// that answers an earlier request. A message with no tag
// (a responder that answers with a message of its own) is taken as the
// reply, as is anything else sent to the context meanwhile: give
// concurrent conversations contexts of their own. It does not allocate
// once the context has made its tags (on its first Request).
func (a *App) Request(route wire.Route, payload []byte, timeout time.Duration) (*wire.Message, error) {
	c := &a.Context
	if c.appBox.closed.Load() {
		return nil, ErrContextClosed
	}
	tag := c.nextTag()
	m, err := c.node.pool.Build(route, c.reqRoute[:], payload)
	if err != nil {
		return nil, err
	}
	if err := c.Forward(m); err != nil {
		return nil, err
	}
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		left := time.Duration(-1)
		if timeout >= 0 {
			if left = time.Until(deadline); left < 0 {
				left = 0
			}
		}
		r, err := a.Receive(left)
		if be, ok := err.(*BounceError); ok && be.tag != "" && be.tag != tag.Value() {
			continue // an earlier request's
		}
		if re, ok := err.(*RefusedError); ok && re.tag != "" && re.tag != tag.Value() {
			c.node.stats.stale.Add(1) // an earlier request's
			continue
		}
		if err != nil {
			return nil, err
		}
		if t, v, ok := r.OnwardAt(1); ok && t == wire.Local && isReqTag(v) && string(v) != tag.Value() {
			c.node.stats.stale.Add(1)
			r.Release()
			continue
		}
		return r, nil
	}
}

// reqTags is how many request tags an app context cycles through: a
// reply later than this many requests is taken for the current one's.
const reqTags = 256

// nextTag puts the next request tag behind the context's address in
// reqRoute and returns it.
func (c *Context) nextTag() wire.Address {
	if c.tags == nil {
		c.tags = new([reqTags]wire.Address)
		for i := range c.tags {
			c.tags[i], _ = wire.NewAddress(wire.Local, "~req-"+strconv.Itoa(i))
		}
		c.reqRoute[0] = c.self
	}
	c.reqSeq++
	t := c.tags[c.reqSeq%reqTags]
	c.reqRoute[1] = t
	return t
}

// isReqTag reports whether v is a request tag's value.
func isReqTag(v []byte) bool { return len(v) > 5 && string(v[:5]) == "~req-" }

// Close removes an app context from its node and releases what it had not
// received. It is idempotent.
func (a *App) Close() error {
	c := &a.Context
	c.node.unregister(c.w)
	c.closeApp()
	return nil
}

// closeApp refuses further messages and releases the queued ones. A loop
// may still be pushing: it sees closed, or its message is released here
// or by the final sweep at node shutdown.
func (c *Context) closeApp() {
	b := c.appBox
	b.closed.Store(true)
	for b.pushers.Load() != 0 {
		yield()
	}
	b.popMu.Lock()
	defer b.popMu.Unlock()
	drainRing(b.q, (*wire.Message).Release)
}
