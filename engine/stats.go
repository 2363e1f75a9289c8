package engine

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

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
	StaleReplies   uint64 // replies (and refusal notices) an app context's Request got after their request had timed out, released
	NoticesSent    uint64 // refusal notices sent to remote senders (notice.go)
	NoticesHeld    uint64 // refusals owed a notice that got none: over the notices' rate limit, or no room
	DroppedAtClose uint64 // messages still queued for a worker when the node closed, released unhandled
}

type counters struct {
	unknown, full, handler, undeliverable, denied, expired, panics atomic.Uint64
	stale, noticesSent, noticesHeld, closeDrops                    atomic.Uint64
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
		NoticesSent:    c.noticesSent.Load(),
		NoticesHeld:    c.noticesHeld.Load(),
		DroppedAtClose: c.closeDrops.Load(),
	}
}

// handlerError counts a handler's error and logs it: at debug level, but
// for access control's refusals of what the network sent (a hop asked to
// dial, or to write onto another peer's connection), which an operator
// wants to see: at warn level, at most once a second, with how many were
// held back.
func (n *Node) handlerError(wk *worker, err error) {
	n.stats.handler.Add(1)
	var ae *AccessError
	if errors.As(err, &ae) {
		now := time.Now().UnixNano()
		last := n.deniedLog.Load()
		if now-last < int64(time.Second) || !n.deniedLog.CompareAndSwap(last, now) {
			n.deniedHeld.Add(1)
			return
		}
		n.log.Warn("engine: a worker's send refused by access control", "worker", wk.addrs[0], "flow", ae.Flow, "err", err, "suppressed", n.deniedHeld.Swap(0))
		return
	}
	if n.log.Enabled(context.Background(), slog.LevelDebug) {
		n.log.Debug("handler error", "worker", wk.addrs[0], "err", err)
	}
}
