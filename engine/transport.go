package engine

import "github.com/hopwire/hopwire/wire"

// Transport carries messages off the node: the node hands it every message
// whose next onward address has the transport's Type. Messages a transport
// receives go into the node through Node.Deliver.
type Transport interface {
	// Type is the address type the transport handles, e.g. wire.TCP.
	Type() wire.Type
	// Send takes m, whose next onward address is of the transport's type,
	// and carries it on. It owns m from the call on, on error too. It is
	// called from event loops and app goroutines at once, so it must be
	// safe for concurrent use and must not block on the network.
	Send(m *wire.Message) error
	// Close stops the transport; the node calls it when it closes.
	Close() error
}
