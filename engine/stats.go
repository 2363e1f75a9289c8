package engine

import "sync/atomic"

// Stats counts what a node dropped or refused. Successful deliveries are
// not counted: that would put a shared atomic on every hop.
type Stats struct {
	UnknownAddress uint64 // messages for a local address no worker has
	MailboxFull    uint64 // messages refused because a mailbox was full
	HandlerErrors  uint64 // HandleMessage calls that returned an error
	Undeliverable  uint64 // messages dropped for other reasons (no transport, bad route, stopped worker)
	Denied         uint64 // messages from the network refused by access control: a worker, a link or a dial their origin may not reach
	HopsExhausted  uint64 // messages from the network that arrived with no hop budget left: a routing loop, ended
	Panics         uint64 // handlers and Shutdown hooks that panicked (each stops its worker)
	StaleReplies   uint64 // replies an app context's Request got after their request had timed out, released
}

type counters struct {
	unknown, full, handler, undeliverable, denied, expired, panics atomic.Uint64
	stale                                                          atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		UnknownAddress: c.unknown.Load(),
		MailboxFull:    c.full.Load(),
		HandlerErrors:  c.handler.Load(),
		Undeliverable:  c.undeliverable.Load(),
		Denied:         c.denied.Load(),
		HopsExhausted:  c.expired.Load(),
		Panics:         c.panics.Load(),
		StaleReplies:   c.stale.Load(),
	}
}
