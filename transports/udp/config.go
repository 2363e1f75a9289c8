package udp

import (
	"net/netip"
	"strconv"
	"time"
)

// Defaults and limits of a Config.
const (
	DefaultMaxDatagram = 65507       // the IPv4 UDP maximum: 65535 - 20 (IP header) - 8 (UDP header)
	MinDatagram        = 64          // smallest MaxDatagram accepted: room for a short route
	DefaultClientAddr  = "0.0.0.0:0" // the client socket: ephemeral port, any IPv4 destination
	DefaultMaxPeers    = 1024        // entries of the peer table before it starts over
)

// Config configures a Transport. Its zero value means defaults.
type Config struct {
	// MaxDatagram is the largest datagram sent or accepted: a version
	// byte and the encoded message. Send refuses a larger one with a
	// *SizeError; a larger datagram received is dropped. 0 means DefaultMaxDatagram, or the
	// node's max frame if that is smaller; it must be between MinDatagram
	// and DefaultMaxDatagram and not over the node's max frame.
	MaxDatagram int
	// ClientAddr is the address the client socket binds, ip:port: the
	// socket Send uses for peers it has not heard from. Its IP family is
	// the family of the destinations it can reach. "" means
	// DefaultClientAddr.
	ClientAddr string
	// MaxPeers bounds the peer table (see the package doc). 0 means
	// DefaultMaxPeers.
	MaxPeers int
	// SocketBuffer, if > 0, sets SO_RCVBUF and SO_SNDBUF of every socket:
	// a larger receive buffer loses fewer datagrams in a burst. 0 leaves
	// the system's default.
	SocketBuffer int
	// BusyPoll, if > 0, trades CPU for latency: after a datagram, a
	// socket's loop goes on reading the socket itself, without sleeping,
	// until none has come for BusyPoll (yielding to other goroutines
	// between tries). A reply or the next request that comes within it
	// skips the thread wake-up, and is read without gnet's per-datagram
	// allocations. The loop's thread stays busy for BusyPoll after every
	// datagram, and for as long as traffic keeps coming: for a node that
	// is to answer within microseconds and has a CPU to spare. Not with
	// GOMAXPROCS=1: the polling loop then shares the only P with the
	// node's loops, and a UDP round trip measured 69-96 µs p50 instead of
	// 22. 0 (the default) sleeps between datagrams.
	BusyPoll time.Duration
	// ClientFlow is the flow that spawns the peers this node sends to
	// first: node.Allow(ClientFlow, ...) lets what they send reach those
	// workers. Replies need no Allow: they may retrace the reply path of
	// what the node sent (engine/access.go). 0 means a flow of the
	// transport's own (Transport.ClientFlow).
	ClientFlow uint64
}

func (c *Config) setDefaults(nodeMaxFrame int) error {
	if c.MaxDatagram < 0 || c.MaxPeers < 0 || c.SocketBuffer < 0 || c.BusyPoll < 0 {
		return &ConfigError{Field: "(all)", Reason: "must not be negative"}
	}
	if c.MaxDatagram == 0 {
		c.MaxDatagram = min(DefaultMaxDatagram, nodeMaxFrame)
	}
	if c.MaxDatagram < MinDatagram || c.MaxDatagram > DefaultMaxDatagram {
		return &ConfigError{Field: "MaxDatagram", Reason: "must be between " + strconv.Itoa(MinDatagram) + " and " + strconv.Itoa(DefaultMaxDatagram)}
	}
	if c.MaxDatagram > nodeMaxFrame {
		return &ConfigError{Field: "MaxDatagram", Reason: "must not exceed the node's max frame (" + strconv.Itoa(nodeMaxFrame) + ")"}
	}
	if c.ClientAddr == "" {
		c.ClientAddr = DefaultClientAddr
	}
	if _, err := netip.ParseAddrPort(c.ClientAddr); err != nil {
		return &ConfigError{Field: "ClientAddr", Reason: "must be a literal ip:port: " + err.Error()}
	}
	if c.MaxPeers == 0 {
		c.MaxPeers = DefaultMaxPeers
	}
	return nil
}
