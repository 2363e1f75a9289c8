package tcp

import (
	"sync/atomic"

	"github.com/hopwire/hopwire/transports/internal/traffic"
)

// Stats counts connections, the traffic they carried, and what the
// transport refused or dropped. Traffic is counted per connection (an
// atomic of its own, written by its reader or its writer, not shared
// between connections) and summed here.
type Stats struct {
	MessagesIn  uint64 // frames received, all connections, closed ones included
	BytesIn     uint64 // their bytes (messages, without length prefixes)
	MessagesOut uint64 // frames written
	BytesOut    uint64 // their bytes, length prefixes included

	// Compression (Config.Compress): what the compressed payloads saved
	// on the wire. Without compression the bytes would have been
	// BytesIn+SavedIn and BytesOut+SavedOut.
	SavedIn  uint64 // bytes received compressed less than they decoded to
	SavedOut uint64 // bytes sent compressed less than they were
	BadCodec uint64 // connections closed: a compressed payload that did not decode or declared more than the max frame

	Accepted uint64 // connections accepted by listeners
	Dialed   uint64 // connections dialed (Connect and routes), handshake done or not
	Open     int64  // connections open now (dialing ones included)

	DialErrors uint64 // dials that failed
	BadVersion uint64 // connections closed: the peer's hello was malformed or shared no version
	BadFrame   uint64 // connections closed: bad length prefix or undecodable message
	BadRoute   uint64 // connections closed: empty onward route, or the return route could not take the connection's address
	Truncated  uint64 // connections that closed in the middle of a frame
	Silent     uint64 // connections closed: no hello within Config.HandshakeTimeout

	FrameTimeouts uint64 // connections closed: a frame not complete within Config.FrameTimeout
	OverBudget    uint64 // connections closed: a frame would have taken PendingBytes past Config.MaxPendingBytes
	Evicted       uint64 // connections closed to make room in that budget: their frames had had no new bytes for longest
	PendingBytes  int64  // bytes held now for frames not yet complete, all connections together
	QueuedBytes   int64  // encoded bytes waiting now in the outbound queues, all connections together (Config.MaxQueuedBytes)
	Rejected      uint64 // connections a listener closed at once: it had Config.MaxConns open
	AcceptErrors  uint64 // failed accepts (EMFILE, ENFILE, ...; the listener backs off and goes on), and accepted sockets gnet could not take

	Denied        uint64 // received messages refused by access control
	Undeliverable uint64 // received messages the node refused for other reasons (unknown worker, full mailbox)
	QueueFull     uint64 // outbound messages refused: the connection's queue was full, or it was congested, or all the queues held Config.MaxQueuedBytes
	QueueWaits    uint64 // sends that found the queue full and waited (Config.SendWait, PeerSendWait)
	SlowConsumers uint64 // connections closed: congested for Config.SlowConsumerTimeout
	SendErrors    uint64 // outbound messages refused for other reasons (no connection, bad route, closed)
	Dropped       uint64 // outbound messages queued but never written: their connection closed
}

type counters struct {
	accepted, dialed                                   atomic.Uint64
	open                                               atomic.Int64
	dialErrors, badVersion, badFrame, badRoute, trunc  atomic.Uint64
	silent, slowConsumers                              atomic.Uint64
	denied, undeliverable, queueFull, sendErr, dropped atomic.Uint64
	queueWaits                                         atomic.Uint64
	frameTimeouts, overBudget, rejected, acceptErrors  atomic.Uint64
	evicted                                            atomic.Uint64
	badCodec                                           atomic.Uint64
}

// snapshot returns the counters; PendingBytes is the transport's to add.
func (c *counters) snapshot() Stats {
	return Stats{
		Accepted:      c.accepted.Load(),
		Dialed:        c.dialed.Load(),
		Open:          c.open.Load(),
		DialErrors:    c.dialErrors.Load(),
		BadVersion:    c.badVersion.Load(),
		BadFrame:      c.badFrame.Load(),
		BadRoute:      c.badRoute.Load(),
		Truncated:     c.trunc.Load(),
		Silent:        c.silent.Load(),
		FrameTimeouts: c.frameTimeouts.Load(),
		OverBudget:    c.overBudget.Load(),
		Evicted:       c.evicted.Load(),
		BadCodec:      c.badCodec.Load(),
		Rejected:      c.rejected.Load(),
		AcceptErrors:  c.acceptErrors.Load(),
		Denied:        c.denied.Load(),
		Undeliverable: c.undeliverable.Load(),
		QueueFull:     c.queueFull.Load(),
		QueueWaits:    c.queueWaits.Load(),
		SlowConsumers: c.slowConsumers.Load(),
		SendErrors:    c.sendErr.Load(),
		Dropped:       c.dropped.Load(),
	}
}

// addTraffic puts t in s.
func (s *Stats) addTraffic(t traffic.Totals) {
	s.MessagesIn, s.BytesIn, s.MessagesOut, s.BytesOut = t.MsgsIn, t.BytesIn, t.MsgsOut, t.BytesOut
	s.SavedIn, s.SavedOut = t.SavedIn, t.SavedOut
}
