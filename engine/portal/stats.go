package portal

import "sync/atomic"

// Stats counts what an Inlet or Outlet did. Every field only grows, but
// Open, the sessions open now.
type Stats struct {
	Sessions    uint64 // sessions started: connections accepted (inlet), OPENs taken (outlet)
	Open        uint64 // sessions open now
	BytesIn     uint64 // bytes read from the local sockets and sent on
	BytesOut    uint64 // bytes received and written to the local sockets
	OpenFailed  uint64 // sessions that never opened: ERR, no answer in time, a dial that failed
	Resets      uint64 // sessions aborted: by either end, by a broken route, by a protocol violation
	BadMessages uint64 // messages refused as malformed or out of place (each also resets its session, if any)
	LinkDowns   uint64 // sessions ended because the link they used went down
	SavedIn     uint64 // compressed sessions: bytes their DATA decoded to beyond what came (InletConfig.Compress)
	SavedOut    uint64 // compressed sessions: bytes compression took off what was sent
}

type counters struct {
	sessions, open, bytesIn, bytesOut, openFailed, resets, bad, linkDowns atomic.Uint64
	savedIn, savedOut                                                     atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Sessions:    c.sessions.Load(),
		Open:        c.open.Load(),
		BytesIn:     c.bytesIn.Load(),
		BytesOut:    c.bytesOut.Load(),
		OpenFailed:  c.openFailed.Load(),
		Resets:      c.resets.Load(),
		BadMessages: c.bad.Load(),
		LinkDowns:   c.linkDowns.Load(),
		SavedIn:     c.savedIn.Load(),
		SavedOut:    c.savedOut.Load(),
	}
}
