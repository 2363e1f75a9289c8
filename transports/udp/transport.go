package udp

import (
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/internal/gnetlog"
	"github.com/hopwire/hopwire/transports/internal/ratelog"
	"github.com/hopwire/hopwire/transports/internal/traffic"
	"github.com/hopwire/hopwire/wire"
)

// Transport carries a node's messages as UDP datagrams. It is the node's
// transport for wire.UDP addresses: a route through "2#ip:port" reaches
// the node bound there. Its methods are safe for concurrent use.
type Transport struct {
	host engine.Host
	cfg  Config
	log  *slog.Logger
	pool *wire.Pool

	client *socket // sends to peers not heard from; set before the transport is registered

	own atomic.Pointer[[]netip.AddrPort] // every socket's bound address (fromSelf); copy on write under mu

	mu      sync.Mutex // serialises writers of peers, sockets, closed
	peers   atomic.Pointer[peerTable]
	sockets map[*socket]struct{} // every socket, the client's included
	closed  atomic.Bool
	closing sync.Once

	stats    counters
	closedIO traffic.Counters // traffic of the sockets closed
	warns    ratelog.Set      // what the network causes, one line a second per message
}

// New starts a UDP transport for node: it binds the client socket
// (Config.ClientAddr) and registers the transport as the node's
// transport for wire.UDP addresses. The node closes it when it closes.
func New(node *engine.Node, cfg Config) (*Transport, error) {
	if err := cfg.setDefaults(node.Pool().MaxFrame()); err != nil {
		return nil, err
	}
	t := &Transport{
		host:    engine.HostOf(node),
		cfg:     cfg,
		log:     node.Logger().With("transport", "udp"),
		pool:    node.Pool(),
		sockets: make(map[*socket]struct{}),
	}
	t.peers.Store(newPeerTable(0))
	t.own.Store(new([]netip.AddrPort))
	clientFlow := cfg.ClientFlow
	if clientFlow == 0 {
		clientFlow = t.host.NewFlow()
	}
	c, err := t.bind(cfg.ClientAddr, clientFlow, true)
	if err != nil {
		return nil, err
	}
	t.client = c
	if err := t.host.AddTransport(t); err != nil {
		_ = c.Close()
		return nil, err
	}
	return t, nil
}

func (t *Transport) gnetOptions() []gnet.Option {
	opts := []gnet.Option{
		gnet.WithNumEventLoop(1), // see the package doc
		// One over the largest datagram, so that a larger one, which
		// recvfrom would silently truncate, shows as too large.
		gnet.WithReadBufferCap(t.cfg.MaxDatagram + 1),
		gnet.WithLogger(gnetlog.Logger{L: t.log}),
	}
	if n := t.cfg.SocketBuffer; n > 0 {
		opts = append(opts, gnet.WithSocketRecvBuffer(n), gnet.WithSocketSendBuffer(n))
	}
	return opts
}

// Type returns wire.UDP.
func (t *Transport) Type() wire.Type { return wire.UDP }

// ClientAddr returns the address the client socket is bound to, ip:port:
// where datagrams to peers this node has not heard from come from.
func (t *Transport) ClientAddr() string { return t.client.addr }

// ClientFlow returns the flow that spawns the peers this node sent to
// first (their datagrams arrive on the client socket), for node.Allow.
// Replies need no Allow: they may retrace the reply path of what the node
// sent (engine/access.go).
func (t *Transport) ClientFlow() uint64 { return t.client.flow }

// Stats returns the transport's counters.
func (t *Transport) Stats() Stats {
	s := t.stats.snapshot()
	s.Peers = len(t.peers.Load().byAP)
	var io traffic.Totals
	t.closedIO.AddTo(&io)
	t.mu.Lock()
	for k := range t.sockets {
		k.io.AddTo(&io)
	}
	t.mu.Unlock()
	s.addTraffic(io)
	return s
}

// Send sends m to the peer its next onward address, "2#ip:port", names,
// and owns m from the call on, on error too. It steps that address off
// and writes the encoded message as one datagram with one sendto from
// the calling goroutine, from the socket the peer was first heard on or
// else the client socket. It never waits: a full socket send buffer
// drops the datagram with ErrBusy. A message over Config.MaxDatagram is
// refused with a *SizeError (ErrTooLarge). A message from the network
// leaves only as access control says (engine/access.go): the peer's link
// admits it, and a peer not yet known needs the node's leave
// (engine.Host.AdmitDial). Safe for concurrent use; once the peer is
// known it does not allocate.
func (t *Transport) Send(m *wire.Message) error {
	typ, v, ok := m.Next()
	switch {
	case !ok:
		return t.refuse(m, wire.ErrEmptyRoute)
	case typ != wire.UDP:
		return t.refuse(m, ErrNotUDP)
	case t.closed.Load():
		return t.refuse(m, ErrClosed)
	}
	p := t.peerByText(v)
	if p == nil {
		if err := t.host.AdmitDial(m, wire.UDP, v); err != nil {
			return t.refuse(m, err)
		}
		var err error
		if p, err = t.learnText(string(v)); err != nil {
			return t.refuse(m, err)
		}
	}
	if err := p.link.Admit(m); err != nil {
		return t.refuse(m, err)
	}
	if err := m.Step(); err != nil {
		return t.refuse(m, err)
	}
	if m.OnwardLen() == 0 {
		// The peer would drop it.
		return t.refuse(m, wire.ErrEmptyRoute)
	}
	if n := m.Len() + 1; n > t.cfg.MaxDatagram { // the version byte and the message
		t.stats.tooLarge.Add(1)
		m.Release()
		return &SizeError{Size: n, Limit: t.cfg.MaxDatagram, Peer: p.addr.Value()}
	}
	err := p.sock.send(m.Datagram(), &p.sa)
	m.Release() // the kernel copied the datagram, or refused it
	switch err {
	case nil:
		return nil
	case ErrBusy:
		t.stats.busy.Add(1)
		return ErrBusy
	case ErrSocketClosed:
		t.stats.sendErr.Add(1)
		return err
	}
	t.stats.sendErr.Add(1)
	return &PeerError{Peer: p.addr.Value(), Err: err}
}

func (t *Transport) refuse(m *wire.Message, err error) error {
	t.stats.sendErr.Add(1)
	m.Release()
	return err
}

// Close stops the transport: every socket, the client's included, stops
// receiving and closes. The node calls it when it closes; calling it
// again does nothing.
func (t *Transport) Close() error {
	t.closing.Do(func() {
		t.mu.Lock()
		t.closed.Store(true)
		ss := make([]*socket, 0, len(t.sockets))
		for s := range t.sockets {
			ss = append(ss, s)
		}
		t.mu.Unlock()
		for _, s := range ss {
			_ = s.Close()
		}
		_ = t.client.Close() // not in sockets if it closed already
	})
	return nil
}
