package wire

import "sync/atomic"

// Meta is node-local information about a message, for access control. It
// never goes on the wire. Workers read it (Message.Meta); only the engine
// sets it, through the function ClaimMeta hands out once, so a worker
// cannot make a message from the network pass for local traffic.
type Meta struct {
	// Flow names the link (a TCP connection, a UDP peer) the message
	// entered the node through; 0 for a message made on this node.
	Flow uint64
	// Spawner names what that link belongs to: the listener that
	// accepted the connection, the socket that heard the peer; 0 if none.
	Spawner uint64
	// Via is set by the engine each time a worker sends the message on:
	// which kind of worker that was (the engine's own vocabulary).
	Via uint8
}

var metaClaimed atomic.Bool

// ClaimMeta returns the function that sets a message's Meta. The first
// call gets it — the engine's, from its package initialisation, which
// runs before any code that imports the engine — and every later call
// panics: the power to say where a message came from is the engine's
// alone.
func ClaimMeta() func(*Message, Meta) {
	if !metaClaimed.CompareAndSwap(false, true) {
		panic("wire: ClaimMeta called twice: message metadata is the engine's to set")
	}
	return func(m *Message, meta Meta) { m.meta = meta }
}
