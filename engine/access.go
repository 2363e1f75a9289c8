package engine

import (
	"hash/maphash"
	"slices"
	"sync/atomic"

	"github.com/hopwire/hopwire/wire"
)

// Access control: the model, in one place.
//
// Flows. Every message carries its origin (wire.Meta), stamped by the
// transport it entered through and kept for as long as it is on the node:
// the flow of its link (one TCP connection, one UDP peer) and the flow of
// the link's spawner (the listener that accepted the connection, the
// socket that heard the peer, or the transport's flow for what it
// dialed). Flow 0 is local: a message made on this node. No worker can
// change a message's origin: forwarding, hopping, replying keep it, and
// only the engine holds the setter (wire.ClaimMeta). A message a worker
// makes with Send is local: the worker vouches for what it says itself.
//
// Reaching a worker. A message with an origin reaches a worker only if
// the worker was allowed its link's flow or its spawner's (Node.Allow;
// AllFlows for a public service); Node.Revoke takes that back. Default
// deny: a new listener reaches nothing. Because the origin survives hops,
// a public hop or forwarder cannot launder a message into local traffic:
// past it, the message reaches only what its origin may reach. App
// contexts, connection workers and any internal service are reachable
// from the network only where they were allowed, or on a reply path (below).
//
// Leaving over a link (Link.Admit, checked for every message a transport
// writes, whoever sent it): a local message may leave over any link. A
// message with an origin may leave over link L only
//
//   - back where it came from (its origin is L): a reply;
//   - on a reply path L was granted: when a message of origin A leaves
//     over link B, what comes back over B may go back over A (Ockam's
//     forwarder cross-registers flows the same way);
//   - when a Forwarder sends it: it goes where the forwarder's configured
//     route says, never where the message says;
//   - when the built-in Hop sends it and L is a link the node dialed:
//     that is what a hop is for, bridging a route onto a connection the
//     node opened itself (Ockam's /service/hop); a hop never puts
//     traffic onto another peer's inbound connection.
//
// Replies. When any message leaves over link B, B's flow is granted to
// the local workers at the front of its return route, up to the first
// connection worker or remote address (the path its reply will retrace
// on this node), and to the link it came in on. So what comes back over a
// connection the node dialed reaches only the workers that sent over it
// and what was allowed for it.
//
// Refusal notices (notice.go) keep the origin of the message they
// answer, with no Via: they go where a reply would and nowhere else.
//
// Dialing. A message with an origin never makes the node open a new link
// (dial a TCP address, send to a UDP address not yet known) unless a
// Forwarder sends it (its configured route), or the built-in Hop does and
// the destination is one Config.AllowDial allows (Host.AdmitDial, which
// transports call).
//
// Cost. The checks read the message's Meta (in the message) and a
// worker's or link's short allow list; a link remembers the last few
// return paths it granted, so a steady stream of messages costs no map
// lookup and no allocation. Closing a link revokes its flow everywhere.

// AllFlows, given to Allow, lets messages of any flow reach the workers:
// a public service.
const AllFlows = ^uint64(0)

// setMeta is the engine's own: the only code that can say where a
// message came from.
var setMeta = wire.ClaimMeta()

// Via values: what kind of worker last sent a message on.
const (
	viaOther     uint8 = iota // an app context, a worker of the embedder's, or no worker (straight from the network)
	viaHop                    // the built-in Hop
	viaForwarder              // a Forwarder
)

// viaOf is the Via stamped on what w sends.
func viaOf(w Worker) uint8 {
	switch w.(type) {
	case Hop, *Hop:
		return viaHop
	case Forwarder, *Forwarder:
		return viaForwarder
	}
	return viaOther
}

// newFlow returns a new flow id (never 0 or AllFlows) for a transport to
// give a listener or socket.
func (n *Node) newFlow() uint64 { return n.flows.Add(1) }

// Allow lets messages of the flow reach the workers at addrs: a link's
// flow covers that link, a spawner's flow every link it spawns. The
// workers must be running; allowing survives nothing: a worker started
// again at the same address starts with no flows allowed.
func (n *Node) Allow(flow uint64, addrs ...wire.Address) error {
	return n.changeFlows(addrs, func(s *flowSet) { s.add(flow) })
}

// Revoke takes back what Allow gave: messages of the flow no longer reach
// the workers at addrs (those that were allowed it by a spawner's flow or
// AllFlows still are).
func (n *Node) Revoke(flow uint64, addrs ...wire.Address) error {
	return n.changeFlows(addrs, func(s *flowSet) { s.drop(flow) })
}

// changeFlows applies change to the allow lists of the workers at addrs,
// under regMu, stopping at the first address no worker has.
func (n *Node) changeFlows(addrs []wire.Address, change func(*flowSet)) error {
	n.regMu.Lock()
	defer n.regMu.Unlock()
	defer n.gen.Add(1)
	for _, a := range addrs {
		wk := n.lookupAddr(a)
		if wk == nil {
			return &AddressError{Input: a.String(), Err: ErrUnknownWorker}
		}
		change(&wk.flows)
	}
	return nil
}

// allows reports whether a message of origin o may reach wk.
func (wk *worker) allows(o wire.Meta) bool { return wk.flows.has(o.Flow, o.Spawner) }

// flowSet is a short copy-on-write list of flows: read lock-free, written
// under the node's regMu.
type flowSet struct{ p atomic.Pointer[[]uint64] }

func (s *flowSet) has(flow, spawner uint64) bool {
	fs := s.p.Load()
	if fs == nil {
		return false
	}
	for _, f := range *fs {
		if f == flow || f == AllFlows || f == spawner && spawner != 0 {
			return true
		}
	}
	return false
}

func (s *flowSet) add(flow uint64) {
	old := s.p.Load()
	var next []uint64
	if old != nil {
		if slices.Contains(*old, flow) {
			return
		}
		next = slices.Clone(*old)
	}
	next = append(next, flow)
	s.p.Store(&next)
}

func (s *flowSet) drop(flow uint64) {
	old := s.p.Load()
	if old == nil || !slices.Contains(*old, flow) {
		return
	}
	next := slices.DeleteFunc(slices.Clone(*old), func(f uint64) bool { return f == flow })
	s.p.Store(&next)
}

// Link is the node's side of one network path a transport carries: a TCP
// connection, a UDP peer. The transport makes one per path (Host.NewLink),
// delivers what arrives over it through an Inbound, asks Admit before it
// writes a message out over it, and closes it when the path goes away.
// Its methods are safe for concurrent use.
type Link struct {
	node    *Node
	flow    uint64
	spawner uint64
	dialed  bool

	grants flowSet // flows of links whose traffic may leave over this one: reply paths
	// seen remembers the last few return paths whose grants are made, as
	// hashes of (origin, registry generation, return route), so a steady
	// stream costs a hash and no map lookup.
	seen   [grantMemo]atomic.Uint64
	victim atomic.Uint32
	closed atomic.Bool

	done chan struct{} // closed by Close
	info LinkInfo      // under the node's regMu; set by Describe
	up   bool          // described, in the registry's listing; under regMu
}

const grantMemo = 4

func (n *Node) newLink(spawner uint64, dialed bool) *Link {
	l := &Link{node: n, flow: n.newFlow(), spawner: spawner, dialed: dialed, done: make(chan struct{})}
	n.regMu.Lock()
	n.links[l.flow] = l
	n.regMu.Unlock()
	return l
}

// Flow returns the link's own flow, for Allow and Revoke.
func (l *Link) Flow() uint64 { return l.flow }

// Spawner returns the flow of what spawned the link.
func (l *Link) Spawner() uint64 { return l.spawner }

// Close revokes the link's flow from every worker and link it was granted
// to, takes it out of the registry, closes Done and tells the link's
// watchers it is down (if it was up). Messages of its origin still on the
// node may still be handled, but reach nothing more. It is idempotent.
func (l *Link) Close() {
	if !l.closed.CompareAndSwap(false, true) {
		return
	}
	n := l.node
	n.regMu.Lock()
	delete(n.links, l.flow)
	for wk := range n.all {
		wk.flows.drop(l.flow)
	}
	for _, o := range n.links {
		o.grants.drop(l.flow)
	}
	n.gen.Add(1)
	up, info, watchers := l.up, l.info, n.watchers
	n.regMu.Unlock()
	close(l.done)
	if up {
		n.tell(watchers, LinkDown, info)
	}
}

// Accept lets messages that came in over from leave over l as replies
// leave over the link they came in on: for a transport whose peer reaches
// the node over more than one link (a UDP peer that writes to two of the
// node's sockets, answered from the one it was first heard on). Closing
// either link undoes it.
func (l *Link) Accept(from *Link) {
	n := l.node
	n.regMu.Lock()
	defer n.regMu.Unlock()
	if l.closed.Load() || from.closed.Load() {
		return
	}
	l.grants.add(from.flow)
	n.gen.Add(1)
}

// Admit decides whether m may leave the node over l (see the model
// above) and, if it may, grants l's flow the path m's reply will take.
// On refusal it counts the denial and returns an *AccessError; m is the
// caller's either way. It does not allocate in the steady state.
func (l *Link) Admit(m *wire.Message) error {
	o := m.Meta()
	if o.Flow == l.flow {
		return nil // a reply: what it passes on its way back, its origin may reach already
	}
	if o.Flow != 0 && !l.grants.has(o.Flow, 0) && o.Via != viaForwarder && (o.Via != viaHop || !l.dialed) {
		l.node.stats.denied.Add(1)
		return &AccessError{Addr: "link", Flow: o.Flow}
	}
	l.grant(m, o)
	return nil
}

var grantSeed = maphash.MakeSeed()

// grant gives l's flow the reply path of m, unless it did so lately.
func (l *Link) grant(m *wire.Message, o wire.Meta) {
	n := l.node
	// A collision only skips a grant: the reply is then denied, never
	// wrongly let through.
	sum := maphash.Bytes(grantSeed, m.ReturnBytes()) ^ mix(o.Flow) ^ mix(^n.gen.Load())
	for i := range l.seen {
		if l.seen[i].Load() == sum {
			return
		}
	}
	n.grantPath(l, m, o)
	l.seen[l.victim.Add(1)%grantMemo].Store(sum)
}

// grantPath is grant's slow path: it allows l's flow on the local workers
// at the front of m's return route, up to the first connection worker
// (granted on its link) or remote address, and on the link of m's origin.
// It takes regMu only to change something.
func (n *Node) grantPath(l *Link, m *wire.Message, o wire.Meta) {
	var stops [wire.MaxRouteLen]uint16
	addrs := m.ReturnBytes() // farthest first
	k := 0
	for i := 0; i < len(addrs); i += 2 + int(addrs[i+1]) {
		stops[k] = uint16(i)
		k++
	}
	add := make([]*flowSet, 0, 8)
	for k--; k >= 0; k-- { // nearest first
		i := int(stops[k])
		if wire.Type(addrs[i]) != wire.Local {
			break
		}
		wk := n.lookup(addrs[i+2 : i+2+int(addrs[i+1])])
		if wk == nil {
			break
		}
		if wk.link != nil {
			if wk.link != l && !wk.link.grants.has(l.flow, 0) {
				add = append(add, &wk.link.grants)
			}
			break
		}
		if !wk.flows.has(l.flow, 0) {
			add = append(add, &wk.flows)
		}
	}
	var from *Link
	if o.Flow != 0 {
		n.regMu.Lock()
		from = n.links[o.Flow]
		n.regMu.Unlock()
		if from != nil && from != l && !from.grants.has(l.flow, 0) {
			add = append(add, &from.grants)
		}
	}
	if len(add) == 0 {
		return
	}
	n.regMu.Lock()
	defer n.regMu.Unlock()
	if l.closed.Load() {
		return // Close has revoked it, or is about to; granting now would outlive it
	}
	for _, s := range add {
		s.add(l.flow)
	}
	n.gen.Add(1)
}

// mix scatters the bits of x (splitmix64's finaliser).
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (n *Node) admitDial(m *wire.Message, dest wire.Type, value []byte) error {
	o := m.Meta()
	if o.Flow == 0 || o.Via == viaForwarder || o.Via == viaHop && n.dial.allows(dest, value) {
		return nil
	}
	n.stats.denied.Add(1)
	n.refuseDial(m, dest, value)
	return &AccessError{Addr: unknownAddr(dest, value).(*AddressError).Input, Flow: o.Flow, Dial: true}
}

// AccessError says that a message's origin may not go where it was
// headed: reach a worker, leave over a link, or make the node dial.
type AccessError struct {
	Addr string // the worker, "link", or the address a dial was refused to
	Flow uint64 // the message's origin
	Dial bool   // the refusal was of a new dial
}

func (e *AccessError) Error() string {
	if e.Dial {
		return "engine: access denied: remote traffic may not make the node dial " + e.Addr + " (see Config.AllowDial)"
	}
	if e.Addr == "link" {
		return "engine: access denied: message may not leave over that link"
	}
	return "engine: access denied: flow not allowed to reach " + e.Addr
}

func (e *AccessError) Unwrap() error { return ErrDenied }

func (n *Node) deny(addr string, m *wire.Message) error {
	n.stats.denied.Add(1)
	err := &AccessError{Addr: addr, Flow: m.Meta().Flow}
	m.Release()
	return err
}
