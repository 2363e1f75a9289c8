package main

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

const (
	// maxNap bounds the pacer's naps while a sender is not waiting for
	// it: one that comes to wait for a time sooner than the pacer's next
	// is woken at most this late. While every sender waits, none can
	// come to wait for a sooner time (a sender's next request is due
	// after its last), and the pacer naps until the first is due, up to
	// maxPacerNap, which bounds how long Close waits.
	maxNap      = 50 * time.Microsecond
	maxPacerNap = 5 * time.Millisecond
	// wakeID is the sender id in a wake-up's header: no sender has it.
	wakeID = math.MaxUint32
)

// pacer wakes the senders of an open loop when their requests are due. A
// Go timer cannot: an idle Go process wakes its timers to the next whole
// millisecond (the runtime's netpoller waits in ms), and the open loop
// would send in 1 ms bursts and count that slop as latency. So one
// goroutine on a thread of its own naps in the kernel, a few µs
// precise, and wakes a sender waiting in Receive with a message, as a
// reply would. A sender needs no thread of its own and takes a reply as
// soon as it comes.
type pacer struct {
	ctx    *engine.App
	wake   []byte         // a wake-up's payload: the run's header, wakeID
	wakeAt []atomic.Int64 // per sender: when it wants waking, ns since the start; 0: not
	routes []wire.Route   // per sender: its address
	stop   chan struct{}
	done   chan struct{}
}

func newPacer(node *engine.Node, runID uint32, senders []*sender) (*pacer, error) {
	ctx, err := node.NewContext(wire.LocalAddr("hopload-pacer"))
	if err != nil {
		return nil, err
	}
	p := &pacer{
		ctx:    ctx,
		wake:   newPayload(headerLen, runID, wakeID),
		wakeAt: make([]atomic.Int64, len(senders)),
		routes: make([]wire.Route, len(senders)),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for i, s := range senders {
		p.routes[i] = wire.Route{s.ctx.Address()}
	}
	return p, nil
}

// run wakes the senders until Close. Per wake-up it allocates nothing:
// Send copies the payload into a pooled message.
func (p *pacer) run(r *run) {
	defer close(p.done)
	lockNapper()
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		now := r.now()
		next := now + int64(maxPacerNap)
		all := true // every sender waits to be woken
		for i := range p.wakeAt {
			at := p.wakeAt[i].Load()
			switch {
			case at == 0:
				all = false
			case at <= now:
				all = false
				// A full mailbox refuses at once (the node does not
				// wait to send): the sender has messages to take
				// then, and looks at the time when it does.
				if p.wakeAt[i].CompareAndSwap(at, 0) {
					_ = p.ctx.Send(p.routes[i], p.wake)
				}
			default:
				next = min(next, at)
			}
		}
		if !all {
			// One that is not waiting may come to wait for any time.
			next = min(next, now+int64(maxNap))
		}
		if d := next - r.now(); d > 0 {
			nap(time.Duration(d))
		}
	}
}

// Close stops the pacer and waits for it.
func (p *pacer) Close() {
	close(p.stop)
	<-p.done
	_ = p.ctx.Close()
}
