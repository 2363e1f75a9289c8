package udp

import (
	"net"
	"net/netip"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// peer is what the transport knows of one remote address: the return
// address receivers put on messages from it, its socket address, and the
// socket datagrams to it leave from. Immutable once published.
type peer struct {
	addr wire.Address // 2#ip:port, canonical text
	ap   netip.AddrPort
	sa   sockaddr
	sock *socket
	link *engine.Link // its flow: what it may reach, what may be sent to it
}

// peerTable maps the text of "2#host:port" addresses (what Send meets)
// and received-from addresses (what a socket meets) to peers. It is copy
// on write: readers load it without locks; writers hold Transport.mu.
type peerTable struct {
	byText map[string]*peer
	byAP   map[netip.AddrPort]*peer
}

func newPeerTable(n int) *peerTable {
	return &peerTable{byText: make(map[string]*peer, n), byAP: make(map[netip.AddrPort]*peer, n)}
}

// addrPortOf returns the sender's address of a datagram from gnet; IPv4
// senders of an IPv6 socket are unmapped. It does not allocate.
func addrPortOf(a net.Addr) (netip.AddrPort, bool) {
	ua, ok := a.(*net.UDPAddr)
	if !ok || ua == nil {
		return netip.AddrPort{}, false
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.IsValid()
}

// peerByText finds the peer of an address value without allocating.
func (t *Transport) peerByText(v []byte) *peer { return t.peers.Load().byText[string(v)] }

// peerByAP finds the peer of a received-from address.
func (t *Transport) peerByAP(ap netip.AddrPort) *peer { return t.peers.Load().byAP[ap] }

// learnText returns the peer for the address value text, making it if it
// is new: a datagram to a peer not heard from leaves from the client
// socket.
func (t *Transport) learnText(text string) (*peer, error) {
	ap, err := netip.ParseAddrPort(text)
	if err != nil || ap.Port() == 0 {
		return nil, &wire.AddressError{Input: text, Err: ErrBadAddress}
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return nil, ErrClosed
	}
	tab := t.peers.Load()
	if p := tab.byText[text]; p != nil {
		return p, nil
	}
	p := tab.byAP[ap]
	if p == nil {
		if p, err = t.newPeer(ap, t.client); err != nil {
			return nil, &PeerError{Peer: text, Err: err}
		}
	}
	t.publish(p, text)
	return p, nil
}

// learnAP returns the peer for an address sock received from, making it
// if it is new: replies to it leave from sock.
func (t *Transport) learnAP(ap netip.AddrPort, sock *socket) (*peer, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.peers.Load().byAP[ap]; p != nil {
		return p, nil
	}
	p, err := t.newPeer(ap, sock)
	if err != nil {
		return nil, err
	}
	if !t.closed.Load() && !sock.closed.Load() {
		t.publish(p, "")
	} else {
		p.link.Close()
	}
	return p, nil
}

// newPeer makes a peer whose datagrams leave from sock, with a link of
// its own: spawned by sock's flow, or dialed (the transport's client
// flow) for a peer this node sends to first.
func (t *Transport) newPeer(ap netip.AddrPort, sock *socket) (*peer, error) {
	a, err := wire.NewAddress(wire.UDP, ap.String())
	if err != nil {
		return nil, err
	}
	sa, err := makeSockaddr(ap, sock.family)
	if err != nil {
		return nil, err
	}
	p := &peer{addr: a, ap: ap, sa: sa, sock: sock, link: t.host.NewLink(sock.flow, sock.client)}
	p.link.Describe(wire.UDP, a, ap.String())
	return p, nil
}

// publish adds p under its canonical text, its address and alias (if not
// ""). A full table starts over. Called with t.mu held.
func (t *Transport) publish(p *peer, alias string) {
	old := t.peers.Load()
	var tab *peerTable
	if len(old.byText) >= t.cfg.MaxPeers {
		tab = newPeerTable(1)
		t.stats.resets.Add(1)
		if n, ok := t.warns.Get("udp: peer table full, starting over").Allow(); ok {
			t.log.Warn("udp: peer table full, starting over", "peers", len(old.byText), "suppressed", n)
		}
		for _, v := range old.byAP {
			v.link.Close() // forgotten: what it was allowed and granted goes too
		}
	} else {
		tab = newPeerTable(len(old.byText) + 2)
		for k, v := range old.byText {
			tab.byText[k] = v
		}
		for k, v := range old.byAP {
			tab.byAP[k] = v
		}
	}
	tab.byText[p.addr.Value()] = p
	if alias != "" {
		tab.byText[alias] = p
	}
	if tab.byAP[p.ap] == nil {
		tab.byAP[p.ap] = p
	}
	t.peers.Store(tab)
}

// forgetSocket removes the peers whose datagrams leave from s: the next
// send to one of them goes from the client socket.
func (t *Transport) forgetSocket(s *socket) { t.forget(func(p *peer) bool { return p.sock == s }) }

// forget removes the peers gone says are, and closes their links.
func (t *Transport) forget(gone func(*peer) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.peers.Load()
	tab := newPeerTable(len(old.byText))
	for k, v := range old.byText {
		if !gone(v) {
			tab.byText[k] = v
		}
	}
	for k, v := range old.byAP {
		if !gone(v) {
			tab.byAP[k] = v
		} else {
			v.link.Close()
		}
	}
	t.peers.Store(tab)
}

// Connect makes addr ("ip:port") a peer of the node, as a send to it
// would: datagrams to it leave from the client socket (or the socket it
// was heard on, if it was), and its replies are taken. There is no
// handshake; the Conn's Close forgets the peer.
func (t *Transport) Connect(addr string) (engine.Conn, error) {
	p, err := t.learnText(addr)
	if err != nil {
		return nil, err
	}
	return peerConn{t, p}, nil
}

// peerConn is a peer as an engine.Conn.
type peerConn struct {
	t *Transport
	p *peer
}

func (c peerConn) Addr() wire.Address    { return c.p.addr }
func (c peerConn) Flow() uint64          { return c.p.link.Flow() }
func (c peerConn) Done() <-chan struct{} { return c.p.link.Done() }
func (c peerConn) Close() error {
	c.t.forget(func(p *peer) bool { return p == c.p })
	return nil
}

// fromSelf reports whether ap is one of the transport's own sockets: a
// datagram "from" it is forged (or the node sent to itself), and
// answering it would start a loop. A socket bound to the unspecified
// address counts any loopback address with its port.
func (t *Transport) fromSelf(ap netip.AddrPort) bool {
	for _, own := range *t.own.Load() {
		if own.Port() == ap.Port() && (own.Addr() == ap.Addr() || own.Addr().IsUnspecified() && ap.Addr().IsLoopback()) {
			return true
		}
	}
	return false
}
