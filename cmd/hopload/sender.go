package main

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/transports/udp"
	"github.com/hopwire/hopwire/wire"
)

const (
	// maxWait bounds one Receive, so that a sender notices the end of the
	// run (ctx, an abort) within it even while nothing comes back.
	maxWait = 50 * time.Millisecond
	// retryWait is how long a sender whose request was refused for
	// backpressure waits for a reply before it tries again.
	retryWait = 200 * time.Microsecond
	// minHistory is the least number of requests a sender remembers
	// (beyond those in flight) to tell a late reply from a duplicate.
	minHistory = 1024
)

// The state of a request a sender remembers.
const (
	unused   uint8 = iota
	pending        // sent, no reply yet
	received       // a good reply came in time
	lost           // no reply in time
	corrupt        // a reply came with the wrong body or length
)

// slot is a request a sender remembers, at seq % len(slots).
type slot struct {
	seq   uint64
	sent  int64 // ns since the run's start
	state uint8
}

// sender is one app context sending requests and matching replies. Its
// fields are its own goroutine's; the atomics are read by the progress
// line too.
type sender struct {
	r       *run
	id      uint32
	ctx     *engine.App
	payload []byte // the request buffer: header rewritten per request
	hist    *hdrhistogram.Histogram
	timeout int64 // ns

	slots []slot // power-of-two length, at least twice the window
	mask  uint64
	lo    uint64 // oldest request not yet resolved
	next  uint64 // next sequence number to send

	stopping     bool  // no more sends: drain what is in flight
	hasTicket    bool  // a send is claimed (counts against Count and Rate)
	due          int64 // when the claimed send may go, ns since start
	blocked      bool  // the last send was refused for backpressure
	refusedSince int64 // when the claimed send was first refused; -1 if not

	sent, received, lost, errs      atomic.Uint64
	late, duplicates, corrupt       uint64
	unexpected, sendErrors, refused uint64
}

func newSender(r *run, id int, ctx *engine.App) *sender {
	n := 1 << bits.Len(uint(max(minHistory, 2*r.cfg.Window)-1))
	return &sender{
		r:            r,
		id:           uint32(id),
		ctx:          ctx,
		payload:      newPayload(r.cfg.Size, r.runID, uint32(id)),
		hist:         newHist(r.cfg.Timeout),
		timeout:      int64(r.cfg.Timeout),
		slots:        make([]slot, n),
		mask:         uint64(n - 1),
		refusedSince: -1,
	}
}

// newHist returns a histogram of round trips in ns, up to the timeout:
// a slower reply is lost, not recorded.
func newHist(timeout time.Duration) *hdrhistogram.Histogram {
	return hdrhistogram.New(1, max(int64(timeout), int64(time.Microsecond)), 3)
}

// loop sends and receives until the run is over for this sender: its
// share of Count is sent or the time is up or the run stopped, and every
// request in flight is resolved. Per request it allocates nothing: the
// payload buffer is reused, Send copies it into a pooled message, and
// the reply is released once checked.
func (s *sender) loop() {
	r := s.r
	window := uint64(r.cfg.Window)
	for {
		now := r.now()
		s.expire(now)
		if r.aborted.Load() {
			s.abandon()
			return
		}
		if !s.stopping && (r.stop.Load() || now >= r.sendUntil) {
			s.stopping = true
		}
		wait := int64(maxWait)
		// In flight counts from the oldest unresolved request, so
		// replies out of order (UDP) narrow the window for a moment
		// rather than let it grow past Window.
		if !s.stopping && !s.blocked && s.next-s.lo < window {
			if !s.hasTicket {
				t := r.tickets.Add(1) - 1
				if r.cfg.Count > 0 && t >= r.cfg.Count {
					s.stopping = true
					continue
				}
				s.hasTicket, s.due = true, r.due(t)
			}
			if s.due <= now {
				s.send()
				continue
			}
			wait = min(wait, s.due-now)
		}
		if s.next == s.lo {
			if s.stopping {
				return
			}
		} else {
			wait = min(wait, s.slots[s.lo&s.mask].sent+s.timeout-now)
		}
		if s.blocked {
			wait = min(wait, int64(retryWait))
		}
		m, err := s.ctx.Receive(time.Duration(max(wait, 0)))
		s.blocked = false
		switch {
		case err == nil:
			s.reply(m, r.now())
		case errors.Is(err, engine.ErrTimeout):
		case errors.As(err, new(*engine.BounceError)):
			// A request dropped on its way out (its connection closed):
			// it is counted lost when its time is up, and a peer that
			// cannot be dialed again ends the run (link.check).
		default:
			r.abort(fmt.Errorf("receive: %w", err))
		}
	}
}

// send sends the claimed request.
func (s *sender) send() {
	seq := s.next
	putSeq(s.payload, seq)
	t0 := s.r.now()
	err := s.ctx.Send(s.r.route, s.payload)
	if err == nil {
		sl := &s.slots[seq&s.mask]
		sl.seq, sl.sent, sl.state = seq, t0, pending
		s.next++
		s.sent.Add(1)
		s.hasTicket, s.refusedSince = false, -1
		return
	}
	if backpressure(err) {
		// The way out is full: wait for a reply (or a moment) and try
		// again, up to the timeout.
		s.refused++
		if s.refusedSince < 0 {
			s.refusedSince = t0
		}
		if t0-s.refusedSince < s.timeout {
			s.blocked = true
			return
		}
		s.sendErrors++
		s.errs.Add(1)
		s.r.noteError(fmt.Errorf("send refused for longer than --timeout %v: %w", s.r.cfg.Timeout, err))
		s.hasTicket, s.refusedSince = false, -1
		return
	}
	s.sendErrors++
	s.errs.Add(1)
	s.hasTicket = false
	s.r.abort(fmt.Errorf("send along %s: %w", strings.TrimSpace(s.r.cfg.Route), err))
}

// backpressure reports whether err is a send refused because a queue on
// the way out was full, which passes.
func backpressure(err error) bool {
	return errors.Is(err, engine.ErrMailboxFull) || errors.Is(err, tcp.ErrQueueFull) || errors.Is(err, udp.ErrBusy)
}

// expire marks the requests that have waited longer than the timeout as
// lost and moves lo past every resolved request.
func (s *sender) expire(now int64) {
	for s.lo < s.next {
		sl := &s.slots[s.lo&s.mask]
		if sl.state == pending {
			if now-sl.sent < s.timeout {
				return
			}
			sl.state = lost
			s.lost.Add(1)
		}
		s.lo++
	}
}

// abandon counts every request in flight as lost: the run was aborted
// and their replies are not waited for.
func (s *sender) abandon() {
	for ; s.lo < s.next; s.lo++ {
		if sl := &s.slots[s.lo&s.mask]; sl.state == pending {
			sl.state = lost
			s.lost.Add(1)
		}
	}
}

// reply matches a reply to its request and releases it.
func (s *sender) reply(m *wire.Message, now int64) {
	defer m.Release()
	p := m.Payload()
	run, id, seq, ok := parseHeader(p)
	if !ok || run != s.r.runID || id != s.id || seq >= s.next {
		// Not a reply to anything this sender sent.
		s.unexpected++
		s.errs.Add(1)
		return
	}
	sl := &s.slots[seq&s.mask]
	if sl.seq != seq {
		// Older than the sender remembers: long given up for lost.
		s.late++
		return
	}
	switch sl.state {
	case pending:
		switch rtt := now - sl.sent; {
		case rtt > s.timeout:
			sl.state = lost
			s.lost.Add(1)
			s.late++
		case !sameBody(p, s.payload):
			sl.state = corrupt
			s.corrupt++
			s.errs.Add(1)
		default:
			sl.state = received
			s.received.Add(1)
			_ = s.hist.RecordValue(rtt) // rtt <= timeout, the histogram's top
		}
	case lost:
		s.late++
	default: // received, corrupt
		s.duplicates++
		s.errs.Add(1)
	}
	for s.lo < s.next && s.slots[s.lo&s.mask].state != pending {
		s.lo++
	}
}

// due returns when the request with ticket t may be sent, in ns since the
// start: at once without a rate, else on the rate's schedule.
func (r *run) due(t uint64) int64 {
	if r.interval == 0 {
		return 0
	}
	d := float64(t) * r.interval
	if d >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(d)
}
