package engine

import "github.com/hopwire/hopwire/wire"

// outbox holds what a loop's handlers send to one other loop during a
// turn, and hands it on in one batch (ring.MPSC.PushBatch) when the turn
// ends, when it fills, or before a send to that loop has to wait. A
// message handed on one at a time paid a CAS on the ring's tail, a
// wake-up check and the cache lines of its slot each; in a stream whose
// every hop crosses loops that was a fifth of the CPU.
//
// room is how many slots the target's inbox had free when the outbox
// last looked, less what was added since: a send looks at the inbox's
// counters only when that runs out, not every time. It can be more than
// there is (other loops push too); flush then waits for the rest.
type outbox struct {
	to    *loop
	buf   []delivery
	room  int
	dirty bool // on its loop's dirty list
}

// outboxSize bounds what an outbox holds before it is handed on.
const outboxSize = batchSize

// send hands m to wk, a worker on another loop, for a handler running on
// l. It owns m: on error m has been released. A worker's new message
// (how.fresh) is refused at once when the target's inbox is past
// freshRoom, or l's own inbox is (what it sends comes back there in a
// cycle); a forward that finds no room waits (sendWaiting) up to how.wait.
func (l *loop) send(wk *worker, m *wire.Message, how send) error {
	to := wk.loop
	ob := &l.out[to.id]
	need := 1
	if how.fresh {
		need += to.inbox.Cap() - to.freshRoom
	}
	if ob.room < need || len(ob.buf) == outboxSize {
		l.flush(ob) // flushAll sees to the wake-up (ob stays dirty) at the turn's end
		ob.room = to.inbox.Cap() - to.inbox.Len()
	}
	d := delivery{wk, m}
	switch {
	case how.fresh && (ob.room < need || l.inbox.Len()+l.stash.len() >= l.freshRoom):
	case ob.room > 0:
		if !ob.dirty {
			ob.dirty = true
			l.dirty = append(l.dirty, ob)
		}
		ob.buf = append(ob.buf, d)
		ob.room--
		return nil
	case how.wait > 0 && !how.fresh && l.sendWaiting(to, d, how.wait):
		return nil
	}
	l.pushedBack = true
	return wk.refuse(m)
}

// flushAll hands on every outbox with something in it, then sees to it
// that their loops run what they got: a parked one this loop's goroutine
// runs itself (handOn), unless it runs a borrowed loop already.
func (l *loop) flushAll() {
	for _, ob := range l.dirty {
		l.flush(ob)
	}
	for _, ob := range l.dirty {
		ob.dirty = false
		if l.borrowed {
			ob.to.wakeUp()
		} else {
			ob.to.handOn(l)
		}
	}
	clear(l.dirty)
	l.dirty = l.dirty[:0]
}

// flush hands ob's messages to its loop in order: one batch push, then,
// for what did not fit, the wait a forward makes; what that wait gives
// up on is refused and counted, as the send itself would have been.
func (l *loop) flush(ob *outbox) {
	if len(ob.buf) == 0 {
		return
	}
	buf := ob.buf
	ob.buf = ob.buf[:0] // no handler runs, so nothing is added, while this waits
	n := ob.to.inbox.PushBatch(buf)
	wait := l.node.cfg.WorkerWait
	for _, d := range buf[n:] {
		if wait <= 0 || !l.sendWaiting(ob.to, d, wait) {
			d.w.refuse(d.m)
		}
	}
	clear(buf)
}
