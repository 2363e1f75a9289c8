package udp

import (
	"sync/atomic"

	"github.com/hopwire/hopwire/transports/internal/traffic"
)

// Stats counts sockets, the traffic they carried, and what the transport
// refused or dropped. Traffic is counted per socket (its loop counts what
// it reads; senders to it, what they write) and summed here.
type Stats struct {
	MessagesIn  uint64 // datagrams received, all sockets, closed ones included
	BytesIn     uint64 // their bytes
	MessagesOut uint64 // datagrams sent
	BytesOut    uint64 // their bytes

	Sockets int64  // bound sockets open now (the client socket not counted)
	Peers   int    // entries in the peer table now
	Resets  uint64 // times the peer table was full and started over
	Polled  uint64 // datagrams read by busy polling (Config.BusyPoll) rather than by gnet

	BadDatagram   uint64 // received datagrams dropped: empty, over MaxDatagram, undecodable, empty onward route, return route full
	Unsolicited   uint64 // datagrams on the client socket from addresses this node has not sent to
	Spoofed       uint64 // datagrams that claimed to come from one of the transport's own sockets
	Denied        uint64 // received messages refused by access control
	Undeliverable uint64 // received messages the node refused for other reasons (unknown worker, full mailbox)

	TooLarge   uint64 // outbound messages refused: over MaxDatagram
	Busy       uint64 // outbound datagrams dropped: the socket's send buffer was full
	SendErrors uint64 // outbound messages refused for other reasons (bad address, closed, sendto error)
}

type counters struct {
	sockets                                 atomic.Int64
	resets, polled                          atomic.Uint64
	bad, unsolicited, denied, undeliverable atomic.Uint64
	spoofed                                 atomic.Uint64
	tooLarge, busy, sendErr                 atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Sockets:       c.sockets.Load(),
		Resets:        c.resets.Load(),
		Polled:        c.polled.Load(),
		BadDatagram:   c.bad.Load(),
		Unsolicited:   c.unsolicited.Load(),
		Spoofed:       c.spoofed.Load(),
		Denied:        c.denied.Load(),
		Undeliverable: c.undeliverable.Load(),
		TooLarge:      c.tooLarge.Load(),
		Busy:          c.busy.Load(),
		SendErrors:    c.sendErr.Load(),
	}
}

// addTraffic puts t in s.
func (s *Stats) addTraffic(t traffic.Totals) {
	s.MessagesIn, s.BytesIn, s.MessagesOut, s.BytesOut = t.MsgsIn, t.BytesIn, t.MsgsOut, t.BytesOut
}
