package engine

import (
	"slices"

	"github.com/hopwire/hopwire/wire"
)

// Transport carries messages off the node and takes them in: the node
// hands it every message whose next onward address has the transport's
// Type, and reaches its listeners and connections through Listen and
// Connect, so a program (or a node manager) drives any transport the same
// way. Messages a transport receives go into the node through an Inbound
// (see Host).
type Transport interface {
	// Type is the address type the transport handles, e.g. wire.TCP.
	Type() wire.Type
	// Send takes m, whose next onward address is of the transport's type,
	// and carries it on. It owns m from the call on, on error too. It is
	// called from event loops and app goroutines at once, so it must be
	// safe for concurrent use and must not block on the network.
	Send(m *wire.Message) error
	// Listen starts taking traffic in at addr (the address's value, e.g.
	// "127.0.0.1:0" for TCP or UDP, a socket path for Unix). What comes in
	// reaches nothing until Node.Allow lets the listener's flow reach it.
	Listen(addr string) (Listener, error)
	// Connect opens a connection to addr (the address's value) and returns
	// once it can carry messages, or with why it cannot.
	Connect(addr string) (Conn, error)
	// Close stops the transport, its listeners and its connections; the
	// node calls it when it closes.
	Close() error
}

// Listener is where a transport takes traffic in: a TCP or Unix
// listener, a bound UDP socket. Its methods are safe for concurrent use.
type Listener interface {
	// Addr is what a route names the listener by, with the port it bound
	// (e.g. 1#127.0.0.1:40123).
	Addr() wire.Address
	// Flow is the flow of everything that comes in through the listener,
	// for Node.Allow; each connection or peer it takes has a flow of its own
	// as well (Link).
	Flow() uint64
	// Close stops taking traffic in and closes what came in through it
	// (a TCP listener's connections, a UDP socket's peers). It is
	// idempotent.
	Close() error
	// Done is closed when the listener has closed.
	Done() <-chan struct{}
}

// Conn is a connection the node opened: a dialed TCP or Unix connection, a
// UDP peer the node sends to first. Its methods are safe for concurrent use.
type Conn interface {
	// Addr is what a route names the connection by: a TCP connection's
	// worker 0#<32 hex>, a UDP peer's 2#IP:PORT.
	Addr() wire.Address
	// Flow is the connection's own flow, for Node.Allow.
	Flow() uint64
	// Close closes the connection; messages queued on it are dropped and
	// counted. It is idempotent.
	Close() error
	// Done is closed when the connection has closed, for whatever reason.
	Done() <-chan struct{}
}

// ListenerInfo describes a listener (Node.Listeners).
type ListenerInfo struct {
	Type wire.Type
	Addr wire.Address
	Flow uint64
}

// Listen starts a listener at addr on the node's transport for type t.
func (n *Node) Listen(t wire.Type, addr string) (Listener, error) {
	tr, err := n.transport(t)
	if err != nil {
		return nil, err
	}
	return tr.Listen(addr)
}

// Connect opens a connection to addr with the node's transport for type t.
func (n *Node) Connect(t wire.Type, addr string) (Conn, error) {
	tr, err := n.transport(t)
	if err != nil {
		return nil, err
	}
	return tr.Connect(addr)
}

func (n *Node) transport(t wire.Type) (Transport, error) {
	if tr := n.transports.Load()[t]; tr != nil {
		return tr, nil
	}
	return nil, &TransportError{Type: t, Err: ErrNoTransport}
}

// Listeners returns the node's open listeners, oldest first.
func (n *Node) Listeners() []ListenerInfo {
	n.regMu.Lock()
	defer n.regMu.Unlock()
	n.listeners = slices.DeleteFunc(n.listeners, isDone)
	out := make([]ListenerInfo, len(n.listeners))
	for i, l := range n.listeners {
		out[i] = ListenerInfo{Type: l.Addr().Type(), Addr: l.Addr(), Flow: l.Flow()}
	}
	return out
}

func isDone(l Listener) bool {
	select {
	case <-l.Done():
		return true
	default:
		return false
	}
}

// Host is the node as its transports see it: the calls a transport makes
// to take part in the node. A program that embeds a node never needs it;
// a transport gets it from HostOf when it starts. Its methods are safe for
// concurrent use.
type Host struct{ n *Node }

// HostOf returns n as its transports see it.
func HostOf(n *Node) Host { return Host{n} }

// Node returns the node.
func (h Host) Node() *Node { return h.n }

// AddTransport makes the node hand messages whose next address has t's
// type to t, and close t when it closes. A node has one transport per
// address type.
func (h Host) AddTransport(t Transport) error {
	n := h.n
	n.regMu.Lock()
	defer n.regMu.Unlock()
	old := n.transports.Load()
	if old[t.Type()] != nil {
		return &TransportError{Type: t.Type(), Err: ErrTransportInUse}
	}
	next := *old
	next[t.Type()] = t
	n.transports.Store(&next)
	return nil
}

// Listening enters l in the node's list of listeners (Node.Listeners)
// until it is done. A transport calls it for every listener it starts.
func (h Host) Listening(l Listener) {
	n := h.n
	n.regMu.Lock()
	defer n.regMu.Unlock()
	n.listeners = append(slices.DeleteFunc(n.listeners, isDone), l)
}

// NewFlow returns a new flow id (never 0 or AllFlows) for what a
// transport takes traffic in through: a listener, a socket.
func (h Host) NewFlow() uint64 { return h.n.newFlow() }

// NewLink returns a new link with a flow of its own, spawned by spawner
// (a listener's or socket's flow, or 0). dialed says the node opened it:
// the built-in hop may bridge onto it.
func (h Host) NewLink(spawner uint64, dialed bool) *Link { return h.n.newLink(spawner, dialed) }

// NewInbound returns an Inbound for one of the transport's readers.
func (h Host) NewInbound() *Inbound { return &Inbound{node: h.n} }

// StartDirect registers d, a transport's worker for link l, at addr.
// Messages for it are handed to d.Take by whoever sends them, on the
// sender's goroutine, once l.Admit has let them: the engine checks access
// for d. Node.StopWorker removes it.
func (h Host) StartDirect(d Direct, l *Link, addr wire.Address) error {
	_, err := h.n.register(&worker{direct: d, link: l}, []wire.Address{addr})
	return err
}

// AdmitDial decides whether m may make the node open a new link to dest
// (see the model in access.go). On refusal it counts the denial and
// returns an *AccessError; m is the caller's either way.
func (h Host) AdmitDial(m *wire.Message, dest wire.Type, value []byte) error {
	return h.n.admitDial(m, dest, value)
}

// Bounce tells the sender of m why m was dropped, if the sender is an app
// context of this node (the nearest address of m's return route): its
// next Receive returns a *BounceError, and a Request waiting for m's
// reply returns it at once instead of timing out. Transports call it for
// messages they drop after Send returned. It does not take m: the caller
// still releases it. It allocates; it is for the drop path.
func (h Host) Bounce(m *wire.Message, err error) { h.n.bounce(m, err) }
