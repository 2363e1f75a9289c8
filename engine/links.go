package engine

import (
	"encoding/binary"
	"errors"
	"slices"

	"github.com/hopwire/hopwire/wire"
)

// The node's registry of links, and their events: what relays (keepalive,
// re-registration), portals (tear a session down when its connection
// goes) and a node manager (list connections) build on.

// LinkInfo describes an open link (Node.Links).
type LinkInfo struct {
	Flow    uint64       // its own flow, for Allow
	Spawner uint64       // its listener's or socket's flow, or the transport's for what it dialed
	Dialed  bool         // the node opened it
	Type    wire.Type    // its transport
	Addr    wire.Address // what a route names it by: a TCP connection's worker 0#<id>, a UDP peer's 2#ip:port
	Peer    string       // the remote end, as the transport knows it
}

// Describe says what the link is, once the transport has it up (a
// connection's handshake done, a peer learned): it enters the node's
// registry and the link's watchers are told it is up. Call it once.
func (l *Link) Describe(t wire.Type, addr wire.Address, peer string) {
	n := l.node
	n.regMu.Lock()
	if l.closed.Load() || l.up {
		n.regMu.Unlock()
		return
	}
	l.info = LinkInfo{Flow: l.flow, Spawner: l.spawner, Dialed: l.dialed, Type: t, Addr: addr, Peer: peer}
	l.up = true
	watchers := n.watchers
	n.regMu.Unlock()
	n.tell(watchers, LinkUp, l.info)
}

// Done is closed when the link has closed.
func (l *Link) Done() <-chan struct{} { return l.done }

// Links returns the node's links that are up, in no particular order.
func (n *Node) Links() []LinkInfo {
	n.regMu.Lock()
	defer n.regMu.Unlock()
	out := make([]LinkInfo, 0, len(n.links))
	for _, l := range n.links {
		if l.up {
			out = append(out, l.info)
		}
	}
	return out
}

// WatchLinks makes the worker or app context at addr get a message for
// every link that comes up or goes down from now on (ParseLinkEvent reads
// it). Events are local messages with an empty return route; one that
// finds the watcher's mailbox full is dropped and counted (MailboxFull).
func (n *Node) WatchLinks(addr wire.Address) error {
	n.regMu.Lock()
	defer n.regMu.Unlock()
	wk := n.lookupAddr(addr)
	if wk == nil {
		return &AddressError{Input: addr.String(), Err: ErrUnknownWorker}
	}
	if !slices.Contains(n.watchers, wk) {
		n.watchers = append(slices.Clip(n.watchers), wk) // copy on write: tell reads it unlocked
	}
	return nil
}

// LinkEventKind says whether a link came up or went down.
type LinkEventKind uint8

// Link events.
const (
	LinkUp LinkEventKind = 1 + iota
	LinkDown
)

// LinkEvent is a link's coming up or going down, as WatchLinks delivers it.
type LinkEvent struct {
	Kind LinkEventKind
	Link LinkInfo
}

// linkEventTag opens a link event's payload, so that ParseLinkEvent does
// not take another message for one.
const linkEventTag = "hopwire-link-event\x00"

// ErrNotLinkEvent is ParseLinkEvent's answer to a message that is not one.
var ErrNotLinkEvent = errors.New("engine: not a link event")

// tell sends the event to every watcher. Called without regMu.
func (n *Node) tell(watchers []*worker, kind LinkEventKind, info LinkInfo) {
	if len(watchers) == 0 {
		return
	}
	p := []byte(linkEventTag)
	p = append(p, byte(kind), byte(info.Type))
	p = binary.BigEndian.AppendUint64(p, info.Flow)
	p = binary.BigEndian.AppendUint64(p, info.Spawner)
	if info.Dialed {
		p = append(p, 1)
	} else {
		p = append(p, 0)
	}
	p = appendString(p, info.Addr.String())
	p = appendString(p, info.Peer)
	for _, wk := range watchers {
		m, err := n.pool.Build(wk.ctx.selfRoute, nil, p)
		if err != nil {
			continue
		}
		if !n.enter() {
			m.Release()
			return
		}
		// Queued, never run here: the caller is a transport, perhaps
		// holding a lock of its own that the watcher's handler, sending,
		// would want.
		ok := false
		switch {
		case wk.box != nil:
			ok = wk.box.push(m)
		case wk.loop != nil:
			ok = wk.loop.queue(delivery{wk, m})
		}
		if !ok {
			n.stats.full.Add(1)
			m.Release()
		}
		n.exit()
	}
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// ParseLinkEvent reads a message WatchLinks delivered. It does not take m.
func ParseLinkEvent(m *wire.Message) (LinkEvent, error) {
	p := m.Payload()
	if len(p) < len(linkEventTag)+2+16+1 || string(p[:len(linkEventTag)]) != linkEventTag {
		return LinkEvent{}, ErrNotLinkEvent
	}
	p = p[len(linkEventTag):]
	ev := LinkEvent{Kind: LinkEventKind(p[0])}
	ev.Link.Type = wire.Type(p[1])
	ev.Link.Flow = binary.BigEndian.Uint64(p[2:])
	ev.Link.Spawner = binary.BigEndian.Uint64(p[10:])
	ev.Link.Dialed = p[18] == 1
	p = p[19:]
	addr, p, ok := readString(p)
	if !ok {
		return LinkEvent{}, ErrNotLinkEvent
	}
	peer, _, ok := readString(p)
	if !ok {
		return LinkEvent{}, ErrNotLinkEvent
	}
	if addr != "" {
		a, err := wire.ParseAddress(addr)
		if err != nil {
			return LinkEvent{}, ErrNotLinkEvent
		}
		ev.Link.Addr = a
	}
	ev.Link.Peer = peer
	return ev, nil
}

func readString(p []byte) (string, []byte, bool) {
	if len(p) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(p))
	if len(p)-2 < n {
		return "", nil, false
	}
	return string(p[2 : 2+n]), p[2+n:], true
}
