package tcp

import (
	"runtime"
	"strconv"
	"time"

	"github.com/hopwire/hopwire/wire"
)

// Defaults for a zero Config.
const (
	DefaultQueueLen         = 512              // messages per connection's outbound queue
	DefaultQueueBytes       = 4 << 20          // encoded bytes per connection's outbound queue
	DefaultDialTimeout      = 5 * time.Second  // dialing a peer
	DefaultHandshakeTimeout = 5 * time.Second  // waiting for the peer's hello
	DefaultReadBufferCap    = 64 << 10         // gnet's read buffer, one per event loop
	DefaultFrameTimeout     = 10 * time.Second // a frame's first byte to its last
	DefaultMaxPendingBytes  = 64 << 20         // bytes held by incomplete frames, all connections together
	DefaultMaxConns         = 4096             // connections per listener
	DefaultMaxQueuedBytes   = 256 << 20        // encoded bytes queued outbound, all connections together
)

// Defaults for a zero Config: who waits for a full queue, and for how
// long a peer may leave it full (doc.go, Backpressure).
const (
	DefaultSendWait            = 50 * time.Millisecond // a send to a dialed connection
	DefaultPeerSendWait        = time.Millisecond      // a send to an accepted connection
	DefaultSlowConsumerTimeout = 2 * time.Second       // congested this long: disconnected
)

// Config configures a Transport. Its zero value means defaults.
type Config struct {
	// EventLoops is the number of event loops of the gnet engine that runs
	// the transport's connections, dialed and accepted. The engine is
	// shared by the transports of the process with the same EventLoops and
	// ReadBufferCap. 0 means runtime.GOMAXPROCS(0).
	EventLoops int
	// MaxFrame is the largest frame accepted from a peer; a larger length
	// prefix closes the connection. 0 means the node's max frame size; it
	// cannot exceed it.
	MaxFrame int
	// QueueLen bounds the number of messages waiting in a connection's
	// outbound queue (rounded up to a power of two). 0 means DefaultQueueLen.
	QueueLen int
	// QueueBytes bounds the encoded bytes waiting in a connection's
	// outbound queue. A send that would pass either bound waits (see
	// SendWait, PeerSendWait) and is then refused with ErrQueueFull. 0
	// means DefaultQueueBytes.
	QueueBytes int
	// MaxQueuedBytes bounds the encoded bytes waiting in the outbound
	// queues of all the transport's connections together: QueueBytes
	// times thousands of connections whose peers do not read (each asked
	// for a large reply) would otherwise be far more memory than the
	// node has. A send that would pass it waits and is refused like one
	// to a full queue. 0 means DefaultMaxQueuedBytes.
	MaxQueuedBytes int64
	// SendWait is how long a send to a full queue of a connection this
	// transport dialed waits for room before it refuses. The caller stops
	// meanwhile: an event loop, or a reader that runs a borrowed loop for
	// the connection a message came in on, which then stops reading that
	// connection, so a receiver that stops reading slows its senders'
	// senders down instead of losing their messages. It is bounded so
	// that two nodes whose queues fill towards each other do not wait for
	// ever, and it does not apply to a connection still in its handshake.
	// 0 means DefaultSendWait; < 0 means do not wait.
	SendWait time.Duration
	// PeerSendWait is SendWait for the connections a listener accepted,
	// but for traffic relayed from another link (which waits SendWait).
	// It is short because what sends to them is usually a worker that
	// serves every peer (an echo, a service), and a peer that does not
	// read its replies must not hold that worker up. Once a send to an
	// accepted connection has been refused, the connection is congested:
	// further sends to it are refused at once, without waiting, until its
	// queue has drained below half of both bounds. 0 means
	// DefaultPeerSendWait; < 0 means do not wait.
	PeerSendWait time.Duration
	// SlowConsumerTimeout is how long a connection may stay congested
	// before it is disconnected as a slow consumer (Stats.SlowConsumers).
	// A refused send makes a connection congested; an accepted one stays
	// so until its queue has drained below half of both bounds (see
	// PeerSendWait), a dialed one until a send to it gets in. It is
	// checked when a send is refused, so a connection nobody sends to is
	// not cut. 0 means DefaultSlowConsumerTimeout; < 0 means never.
	SlowConsumerTimeout time.Duration
	// DialTimeout bounds dialing a peer. 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// HandshakeTimeout bounds the wait for the peer's hello once
	// connected, on every connection (dialed or accepted); a silent peer
	// is disconnected. 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// ReadBufferCap is the size of gnet's read buffer, one per event loop.
	// 0 means DefaultReadBufferCap.
	ReadBufferCap int
	// FrameTimeout bounds the time from the first byte of a frame (its
	// length prefix included) to its last: a peer that starts a frame
	// and does not finish it in time is disconnected. It is checked about
	// once a second (more often when it is under 4 s), so a connection
	// may last a little longer. 0 means DefaultFrameTimeout.
	FrameTimeout time.Duration
	// MaxPendingBytes bounds the bytes held for frames that have started
	// to arrive and are not complete, over all the transport's
	// connections. A frame is read into memory as its bytes arrive, not
	// at the length its prefix declares (a prefix alone holds nothing).
	// When a frame would take the total past the bound, the connections
	// whose frames have had no new bytes for a second or more are closed
	// to make room (Stats.Evicted); if that is not enough, the connection
	// that asked is closed (Stats.OverBudget). So peers that stall in the
	// middle of frames cannot keep the budget from one that is sending.
	// A frame that comes whole in one read is never counted; one
	// split over reads is counted by the room reserved for it so far, at
	// most its length (the buffer under it may be up to twice that:
	// pooled buffers are powers of two). Keep it well above MaxFrame
	// times the number of large frames expected in flight at once. 0
	// means DefaultMaxPendingBytes.
	MaxPendingBytes int64
	// MaxConns bounds the connections open at once through each listener:
	// one accepted over it is closed at once and counted
	// (Stats.Rejected). Dialed connections are not counted. 0 means
	// DefaultMaxConns.
	MaxConns int
	// DialedFlow is the flow that spawns the connections this transport
	// dials: node.Allow(DialedFlow, ...) lets what comes back over any of
	// them reach those workers. Replies need no Allow: what comes back
	// over a dialed connection may retrace the reply path of what the
	// node sent over it (engine/access.go). 0 means a flow of the
	// transport's own (Transport.DialedFlow).
	DialedFlow uint64
	// Compress is the codec this side offers and sends with: payloads of
	// CompressMin bytes or more go compressed where the peer offers it
	// too (zstd falls back to S2 with a peer that has only S2), and go
	// plain where compression does not shrink them by an eighth. wire.Plain
	// (the zero value) offers nothing, so nothing is compressed either
	// way. Worth it on links slower than the CPU compresses (a WAN, a
	// VPN); on loopback or a LAN the copy is cheaper than the codec.
	Compress wire.Codec
	// CompressMin is the shortest payload tried. 0 means
	// wire.DefaultCompressMin.
	CompressMin int
}

func (c *Config) setDefaults(nodeMaxFrame int) error {
	if c.EventLoops < 0 || c.MaxFrame < 0 || c.QueueLen < 0 || c.QueueBytes < 0 ||
		c.DialTimeout < 0 || c.HandshakeTimeout < 0 || c.ReadBufferCap < 0 ||
		c.FrameTimeout < 0 || c.MaxPendingBytes < 0 || c.MaxConns < 0 || c.CompressMin < 0 || c.MaxQueuedBytes < 0 {
		return &ConfigError{Field: "(all)", Reason: "must not be negative"}
	}
	if c.EventLoops == 0 {
		c.EventLoops = runtime.GOMAXPROCS(0)
	}
	if c.SendWait == 0 {
		c.SendWait = DefaultSendWait
	}
	if c.PeerSendWait == 0 {
		c.PeerSendWait = DefaultPeerSendWait
	}
	if c.SlowConsumerTimeout == 0 {
		c.SlowConsumerTimeout = DefaultSlowConsumerTimeout
	}
	if c.MaxFrame == 0 {
		c.MaxFrame = nodeMaxFrame
	}
	if c.MaxFrame > nodeMaxFrame {
		return &ConfigError{Field: "MaxFrame", Reason: "must not exceed the node's max frame (" + strconv.Itoa(nodeMaxFrame) + ")"}
	}
	if c.QueueLen == 0 {
		c.QueueLen = DefaultQueueLen
	}
	if c.QueueLen < 2 || c.QueueLen > 1<<20 {
		return &ConfigError{Field: "QueueLen", Reason: "must be between 2 and 1<<20"}
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.ReadBufferCap == 0 {
		c.ReadBufferCap = DefaultReadBufferCap
	}
	if c.FrameTimeout == 0 {
		c.FrameTimeout = DefaultFrameTimeout
	}
	if c.MaxPendingBytes == 0 {
		c.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.Compress > wire.Zstd {
		return &ConfigError{Field: "Compress", Reason: "unknown codec"}
	}
	if c.CompressMin == 0 {
		c.CompressMin = wire.DefaultCompressMin
	}
	if c.MaxQueuedBytes == 0 {
		c.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	return nil
}
