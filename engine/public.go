package engine

import "github.com/hopwire/hopwire/wire"

// IsPublic reports whether the address (t, value), as Message.Next and
// OnwardAt return it, names a local worker that was allowed AllFlows: a
// public service, which any message from the network may reach. A
// worker reachable only by some flows (a listener's, a link's, a reply
// path's) is not public, nor is any address that is not local. A relay's
// worker (engine/relay) asks it of every address traffic through the
// relay is headed for. It does not allocate.
func (n *Node) IsPublic(t wire.Type, value []byte) bool {
	if t != wire.Local {
		return false
	}
	wk := n.lookup(value)
	if wk == nil {
		return false
	}
	fs := wk.flows.p.Load()
	if fs == nil {
		return false
	}
	for _, f := range *fs {
		if f == AllFlows {
			return true
		}
	}
	return false
}
