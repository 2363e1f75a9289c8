package engine

import (
	"slices"

	"github.com/hopwire/hopwire/wire"
)

// Access control, after Ockam's flow controls.
//
// A transport tags every message it takes in with a flow (Meta.Flow): one
// per listener, say, or one per connection. A message with a flow can be
// delivered only to a worker that was allowed for that flow; the check is
// made on the message's first local delivery, and a worker that sends the
// message on vouches for it, so the flow is cleared when it does. Local
// traffic (flow 0) is unrestricted. Default deny: a new flow reaches
// nothing until Allow says so, and a message with a flow never goes from
// the network straight on to a transport: some worker allowed for the
// flow (a hop, a forwarder) must take it on, or any peer could use the
// node as a relay.

// AllFlows, given to Allow, lets messages of any flow reach the workers:
// a public service. Transports do not give it to their connection
// workers: a peer could then write to every other peer of the node.
const AllFlows = ^uint64(0)

// NewFlow returns a new flow id (never 0 or AllFlows) for a transport to
// tag incoming messages with.
func (n *Node) NewFlow() uint64 { return n.flows.Add(1) }

// Allow lets messages of the flow reach the workers at addrs. The workers
// must be running; allowing survives nothing: a worker started again at
// the same address starts with no flows allowed.
func (n *Node) Allow(flow uint64, addrs ...string) error {
	n.regMu.Lock()
	defer n.regMu.Unlock()
	for _, a := range addrs {
		wk := n.lookupText(a)
		if wk == nil {
			return &AddressError{Addr: a, Err: ErrUnknownWorker}
		}
		old := wk.flows.Load()
		var next []uint64
		if old != nil {
			if slices.Contains(*old, flow) {
				continue
			}
			next = slices.Clone(*old)
		}
		next = append(next, flow)
		wk.flows.Store(&next)
	}
	return nil
}

// allows reports whether a message of the flow may reach wk.
func (wk *worker) allows(flow uint64) bool {
	fs := wk.flows.Load()
	if fs == nil {
		return false
	}
	for _, f := range *fs {
		if f == flow || f == AllFlows {
			return true
		}
	}
	return false
}

// AccessError is returned by Node.Deliver when the message's flow may not
// reach the worker it is addressed to.
type AccessError struct {
	Addr string
	Flow uint64
}

func (e *AccessError) Error() string {
	return "engine: flow not allowed to reach " + e.Addr
}

func (e *AccessError) Is(target error) bool { return target == ErrDenied }

func (n *Node) deny(addr string, m *wire.Message) error {
	n.stats.denied.Add(1)
	err := &AccessError{Addr: addr, Flow: m.Meta.Flow}
	m.Release()
	return err
}
