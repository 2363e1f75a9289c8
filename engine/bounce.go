package engine

import (
	"sync"
	"sync/atomic"

	"github.com/hopwire/hopwire/wire"
)

// Bounces: telling a sender why a message it sent was dropped after Send
// had returned (a dial that failed, a connection that closed with the
// message still queued), so that it is not left waiting for a reply that
// cannot come.

// BounceError is what an app context's Receive returns when a message it
// sent was dropped on its way off this node, and why; Request returns it
// when it was its own request.
type BounceError struct {
	Err error
	tag string // the dropped message's request tag, "" if none
}

func (e *BounceError) Error() string { return "engine: a message sent was dropped: " + e.Err.Error() }
func (e *BounceError) Unwrap() error { return e.Err }

// maxBounces bounds the bounces an app context keeps until it receives:
// older ones go first.
const maxBounces = 64

// bounces is an app context's list of bounces, for its one receiver.
type bounces struct {
	mu   sync.Mutex
	list []*BounceError
	any  atomic.Bool
}

func (b *bounces) push(e *BounceError) {
	b.mu.Lock()
	if len(b.list) == maxBounces {
		b.list = append(b.list[:0], b.list[1:]...)
	}
	b.list = append(b.list, e)
	b.any.Store(true)
	b.mu.Unlock()
}

// pop takes the oldest bounce, or nil.
func (b *bounces) pop() *BounceError {
	if !b.any.Load() {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.list) == 0 {
		return nil
	}
	e := b.list[0]
	b.list = append(b.list[:0], b.list[1:]...)
	b.any.Store(len(b.list) > 0)
	return e
}

// bounce is Host.Bounce.
func (n *Node) bounce(m *wire.Message, err error) {
	ret := m.ReturnBytes() // farthest first: the sender is the last, its tag the one before
	var last, prev = -1, -1
	for i := 0; i < len(ret); i += 2 + int(ret[i+1]) {
		prev, last = last, i
	}
	if last < 0 || wire.Type(ret[last]) != wire.Local {
		return
	}
	wk := n.lookup(ret[last+2 : last+2+int(ret[last+1])])
	if wk == nil || wk.box == nil {
		return
	}
	e := &BounceError{Err: err}
	if prev >= 0 && wire.Type(ret[prev]) == wire.Local {
		if v := ret[prev+2 : prev+2+int(ret[prev+1])]; isReqTag(v) {
			e.tag = string(v)
		}
	}
	wk.box.bounced.push(e)
	wk.box.wake()
}
