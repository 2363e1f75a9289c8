package engine

import (
	"time"

	"github.com/hopwire/hopwire/wire"
)

// Worker handles messages delivered to its addresses. A worker runs on one
// event loop and is never called concurrently with itself.
//
// HandleMessage is lent m for the call. It may
//
//   - hand m on with Context.Forward or Context.Reply;
//   - release it with m.Release;
//   - keep it past the call with Context.Keep: the worker then owns m
//     and must hand it on or release it later, from a later HandleMessage
//     or from Shutdown (a portal keeps the chunks its peer has not
//     acknowledged);
//   - or leave it: the engine releases it when HandleMessage returns.
//
// m is released once, whatever the handler does: the engine does not
// repeat a handler's Release, and m stays out of the pool until the
// handler returns, so nothing built meanwhile can be given m's buffer. A
// message goes on only through the worker's own Context; once it is
// handed on or released, neither it nor any slice of it may be touched
// (in tests, wire's accessors panic on a released message). Messages a
// worker builds itself (wire.Pool.Build, BuildRoom) are its own until it
// hands them on.
//
// HandleMessage must not block: it shares its loop with other workers. A
// returned error is counted and logged at debug level; the node carries
// on.
//
// A panic in HandleMessage (or Shutdown) is recovered on the loop and
// stops that worker alone: the message it was lent is released unless it
// had handed it on or kept it, the panic is counted (Stats.Panics) and
// logged at error level with its stack, the worker's addresses are
// freed, so senders get ErrUnknownWorker, and messages already queued
// for it are released as undeliverable. Its Shutdown is not called after
// a panic: its state may be half-updated, and so what it kept is not
// released; the collector takes those messages, which still count in
// wire.Pool.Live. The node and the worker's loop carry on.
type Worker interface {
	HandleMessage(ctx *Context, m *wire.Message) error
}

// WorkerFunc adapts a function to the Worker interface.
type WorkerFunc func(ctx *Context, m *wire.Message) error

// HandleMessage calls f(ctx, m).
func (f WorkerFunc) HandleMessage(ctx *Context, m *wire.Message) error { return f(ctx, m) }

// Direct receives messages on the sender's own goroutine, with no mailbox
// and no loop: for transports' connection workers, whose sending side is
// safe for concurrent use anyway, so a reply goes to the socket from the
// goroutine that made it.
type Direct interface {
	// Take owns m from the call on, on error too. It is called from any
	// goroutine, concurrently, and must not block.
	Take(m *wire.Message) error
}

// Shutdowner is implemented by workers that need to act when they stop.
// Shutdown runs on the worker's loop, after its last message. It is not
// called for a worker whose handler panicked; a panic in Shutdown itself
// is recovered, counted and logged as a handler's is.
type Shutdowner interface {
	Shutdown(ctx *Context)
}

// worker is a Worker started on a node: on a loop, or an app context's
// mailbox (box), or a Direct receiver.
type worker struct {
	h       Worker
	loop    *loop
	box     *appBox
	direct  Direct
	link    *Link // a Direct transport worker's link, or nil
	ctx     *Context
	app     *App // an app context's, whose Context ctx is
	addrs   []string
	flows   flowSet // flows allowed to reach it
	via     uint8   // what it sends on is stamped with this Via
	stopped bool    // loop-owned
	faulted bool    // loop-owned: its handler or Shutdown panicked (see loop.fault)
}

// stop runs on the worker's loop.
func (wk *worker) stop() {
	if wk.stopped {
		return
	}
	wk.stopped = true
	if s, ok := wk.h.(Shutdowner); ok {
		wk.shutdown(s)
	}
}

// shutdown calls s.Shutdown and recovers a panic in it, so the task that
// stops wk (StopWorker's, Close's for the whole loop) goes on.
func (wk *worker) shutdown(s Shutdowner) {
	defer func() {
		if v := recover(); v != nil {
			wk.loop.fault(wk, v)
		}
	}()
	s.Shutdown(wk.ctx)
}

// send is how a message is handed on: how long its sender waits for room
// in a full mailbox (<= 0: not at all), and whether it is a worker's new
// one (Context.Send on a loop). Such a message may fill another loop's
// inbox only up to freshRoom: the rest is kept for messages already on
// their way, so sources on the loops cannot take the last slots that hops
// forwarding between loops need to drain each other (the injection limit
// of deadlock-free networks: a ring of queues stays live while new
// packets leave room in it). An app context or a transport is no loop
// and waits on none: what it sends may fill the inbox.
type send struct {
	wait  time.Duration
	fresh bool
}

// deliver queues m for wk. On a full mailbox it waits up to how.wait and
// then refuses, releasing m.
//
// The policy, for the reader deciding where backpressure goes: external
// senders (app contexts, transports) wait up to their deadline. A worker
// forwarding to another loop waits up to Config.WorkerWait, which stalls
// its own loop and so pushes back on that loop's senders; the wait keeps
// its own inbox moving and gives way at once to a cycle of waits (see
// loop), so loops waiting on each other never hold each other. A worker's
// new message (Context.Send) does not wait, nor does a send to the
// worker's own loop (it is the consumer).
func (wk *worker) deliver(from *loop, m *wire.Message, how send) error {
	var ok bool
	switch {
	case wk.direct != nil:
		if wk.link != nil {
			// A transport's worker for a link: the message leaves the node
			// if the link admits it (local traffic always; Admit grants
			// its reply path).
			if err := wk.link.Admit(m); err != nil {
				m.Release()
				return err
			}
		}
		return wk.direct.Take(m)
	case wk.box != nil:
		ok = wk.box.push(m)
	case wk.loop == from:
		if from.local.push(delivery{wk, m}) {
			return nil
		}
		from.pushedBack = true
		return wk.refuse(m)
	case from != nil:
		return from.send(wk, m, how)
	default:
		ok = wk.loop.push(delivery{wk, m})
	}
	if ok {
		return nil
	}
	if how.wait > 0 {
		return wk.deliverSlow(m, how.fresh, time.Now().Add(how.wait).UnixNano())
	}
	return wk.refuse(m)
}

func (wk *worker) refuse(m *wire.Message) error {
	wk.ctx.node.stats.full.Add(1)
	m.Release()
	return &AddressError{Input: wk.addrs[0], Err: ErrMailboxFull}
}

// deliverSlow retries a push into a full mailbox, for app senders that
// asked to wait: yield first (the consumer is usually about to drain),
// then sleep a little at a time.
func (wk *worker) deliverSlow(m *wire.Message, fresh bool, deadline int64) error {
	for i := 0; ; i++ {
		if i < 100 {
			yield()
		} else {
			time.Sleep(20 * time.Microsecond)
		}
		var ok bool
		switch {
		case wk.box != nil:
			ok = wk.box.push(m)
		case fresh && wk.loop.inbox.Len() >= wk.loop.freshRoom:
		default:
			ok = wk.loop.push(delivery{wk, m})
		}
		if ok {
			return nil
		}
		if time.Now().UnixNano() > deadline || wk.ctx.node.closing.Load() {
			return wk.refuse(m)
		}
	}
}
