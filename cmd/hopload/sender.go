package main

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sync"
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
	// lateSend is how far behind its schedule a request of an open-loop
	// run may go out before it counts as sent late: well above the
	// jitter of waking a goroutine, well below the latencies a stall
	// makes.
	lateSend = time.Millisecond
	// spinBelow is the shortest wait of an open loop a sender leaves to
	// the pacer: a shorter one it spends looking at its mailbox, as a
	// fast schedule (100k msgs/s: 10 µs apart) keeps it busy anyway.
	spinBelow = 20 * time.Microsecond
	// maxCorrected is the top of the histogram of latencies counted from
	// the schedule, which a generator that falls behind makes grow
	// without bound; a longer one is recorded as this.
	maxCorrected = time.Hour
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
	seq      uint64
	sent     int64 // ns since the run's start
	intended int64 // when it was due: its scheduled time in an open loop, else sent
	state    uint8
}

// sender is one app context sending requests and matching replies. Its
// fields are its own goroutine's, but for the atomics, which the
// progress line reads too, and the histograms, which it reads under mu.
type sender struct {
	r       *run
	id      uint32
	ctx     *engine.App
	route   wire.Route // the run's route, over this sender's connection
	payload []byte     // the request buffer: header rewritten per request
	timeout int64      // ns
	open    bool       // sends on the run's schedule (Config.Rate)
	limit   uint64     // requests in flight at most

	slots []slot // power-of-two length, at least limit+minHistory
	mask  uint64
	lo    uint64 // oldest request not yet resolved
	next  uint64 // next sequence number to send

	stopping     bool   // no more sends: drain what is in flight
	hasTicket    bool   // a send is claimed (counts against Count and Rate)
	ticket       uint64 // the claimed send's place in the run
	due          int64  // when the claimed send may go, ns since start
	blocked      bool   // the last send was refused for backpressure
	refusedSince int64  // when the claimed send was first refused; -1 if not

	mu          sync.Mutex
	hist        *hdrhistogram.Histogram // measured round trips in ns, from intended
	uncorrected *hdrhistogram.Histogram // open loop: the same from the actual send
	histMax     int64

	sent, received, lost, errs, lateSends atomic.Uint64
	late, duplicates, corrupt             uint64
	unexpected, sendErrors, refused       uint64
	bounced, measured                     uint64
	maxLag, lastSend                      int64
}

func newSender(r *run, id int, ctx *engine.App, route wire.Route) *sender {
	s := &sender{
		r:            r,
		id:           uint32(id),
		ctx:          ctx,
		route:        route,
		payload:      newPayload(r.cfg.Size, r.runID, uint32(id)),
		timeout:      int64(r.cfg.Timeout),
		open:         r.interval > 0,
		limit:        uint64(r.cfg.Window),
		refusedSince: -1,
	}
	if s.open {
		s.limit = openLimit(r.cfg)
		s.hist = newHist(maxCorrected)
		s.uncorrected = newHist(r.cfg.Timeout)
	} else {
		s.hist = newHist(r.cfg.Timeout)
	}
	s.histMax = s.hist.HighestTrackableValue()
	n := 1 << bits.Len64(s.limit+minHistory-1)
	s.slots, s.mask = make([]slot, n), uint64(n-1)
	return s
}

// openLimit is what one sender of an open-loop run may have in flight:
// its share of the rate over the timeout (what a responder that answers
// nothing leaves in flight), and room for a burst that catches up after
// a stall. Only a sender past that is held back, and its lateness shows.
func openLimit(cfg Config) uint64 {
	return uint64(math.Ceil(cfg.Rate/float64(cfg.Concurrency)*cfg.Timeout.Seconds())) + minHistory
}

// newHist returns a histogram of round trips in ns, up to top.
func newHist(top time.Duration) *hdrhistogram.Histogram {
	return hdrhistogram.New(1, max(int64(top), int64(time.Microsecond)), 3)
}

// loop sends and receives until the run is over for this sender: its
// share of Count is sent or the time is up or the run stopped, and every
// request in flight is resolved. Per request it allocates nothing: the
// payload buffer is reused, Send copies it into a pooled message, and
// the reply is released once checked.
//
// In an open loop (Rate) a request goes out when its time on the
// schedule comes, however many are in flight, and one that could not go
// then (the sender was busy, descheduled or refused for backpressure)
// goes as soon as it can, its latency still counted from its scheduled
// time: wrk2's correction for coordinated omission. The pacer wakes the
// sender when a request is due.
func (s *sender) loop() {
	r := s.r
	for {
		now := r.now()
		s.expire(now)
		if r.aborted.Load() {
			s.abandon()
			return
		}
		if !s.stopping && s.sendingOver(now) {
			s.stopping = true
		}
		wait := int64(maxWait)
		// In flight counts from the oldest unresolved request, so
		// replies out of order (UDP) narrow the window for a moment
		// rather than let it grow past the limit.
		sending := !s.stopping && !s.blocked && s.next-s.lo < s.limit
		if sending {
			if !s.hasTicket && !s.claim() {
				s.stopping = true
				continue
			}
			if s.due <= now {
				s.send()
				if s.open {
					// Take a reply that has come before the next send:
					// catching up after a stall, a burst of late sends
					// would hold the replies and lengthen their round
					// trips.
					if m, err := s.ctx.Receive(0); !errors.Is(err, engine.ErrTimeout) {
						s.take(m, err)
					}
				}
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
		waking := sending && s.open // and the due time is to come
		if waking && wait < int64(spinBelow) {
			// Sooner than the pacer would wake us: take what has
			// come, or let other goroutines run, and look again.
			if m, err := s.ctx.Receive(0); errors.Is(err, engine.ErrTimeout) {
				runtime.Gosched()
			} else {
				s.take(m, err)
			}
			continue
		}
		if waking {
			s.r.pacer.wakeAt[s.id].Store(s.due)
		}
		m, err := s.ctx.Receive(time.Duration(max(wait, 0)))
		if waking {
			s.r.pacer.wakeAt[s.id].Store(0)
		}
		s.blocked = false
		s.take(m, err)
	}
}

// take handles what Receive returned.
func (s *sender) take(m *wire.Message, err error) {
	switch {
	case err == nil:
		s.reply(m, s.r.now())
	case errors.Is(err, engine.ErrTimeout):
	case errors.As(err, new(*engine.BounceError)):
		// A request dropped on its way out (its connection closed):
		// it is counted lost when its time is up, and a peer that
		// cannot be dialed again ends the run (link.check).
		s.bounced++
	default:
		s.r.abort(fmt.Errorf("receive: %w", err))
	}
}

// sendingOver reports whether the sender is to send no more. A closed
// loop stops at the run's end; an open loop sends what was scheduled
// before then, late if need be, but gives up once it is a whole timeout
// behind (what it did not send is counted as unsent).
func (s *sender) sendingOver(now int64) bool {
	r := s.r
	switch {
	case r.stop.Load():
		return true
	case s.open:
		return r.sendUntil != math.MaxInt64 && now >= r.sendUntil+s.timeout
	default:
		return now >= r.sendUntil
	}
}

// claim takes the run's next send, or reports that there is none left.
func (s *sender) claim() bool {
	r := s.r
	t := r.tickets.Add(1) - 1
	if r.cfg.Count > 0 && t >= r.cfg.Count {
		return false
	}
	due := r.due(t)
	if s.open && due >= r.sendUntil {
		return false
	}
	s.hasTicket, s.ticket, s.due = true, t, due
	return true
}

// send sends the claimed request.
func (s *sender) send() {
	if hold := s.r.cfg.holdSend; hold != nil && hold(s.ticket) {
		s.blocked = true
		return
	}
	seq := s.next
	putSeq(s.payload, seq)
	t0 := s.r.now()
	err := s.ctx.Send(s.route, s.payload)
	if err == nil {
		intended := t0
		if s.open {
			intended = s.due
			lag := t0 - intended
			s.maxLag = max(s.maxLag, lag)
			if lag > int64(lateSend) {
				s.lateSends.Add(1)
			}
		}
		sl := &s.slots[seq&s.mask]
		sl.seq, sl.sent, sl.intended, sl.state = seq, t0, intended, pending
		s.next++
		s.lastSend = t0
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
	s.r.abort(fmt.Errorf("send along %s: %w", s.route, err))
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
	if ok && run == s.r.runID && id == wakeID {
		return // the pacer's: a request is due
	}
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
			if sl.intended >= s.r.warmup {
				s.record(now-sl.intended, rtt)
			}
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

// record adds a measured round trip: from the request's intended send
// time and, in an open loop, from its actual one (rtt <= timeout, the
// top of that histogram). It does not allocate.
func (s *sender) record(fromIntended, rtt int64) {
	s.mu.Lock()
	_ = s.hist.RecordValue(min(fromIntended, s.histMax))
	if s.uncorrected != nil {
		_ = s.uncorrected.RecordValue(rtt)
	}
	s.measured++
	s.mu.Unlock()
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
