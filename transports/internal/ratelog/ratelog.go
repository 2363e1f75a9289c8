// Package ratelog limits the log lines a transport writes about what the
// network does to one a second per cause, however many connections,
// sockets or peers it comes from: a flood of bad input costs a counter
// and a clock read per event, not a line. The line that goes out says how
// many of its cause were held back since the one before.
//
// A caller logs only when Allow says so, and builds the line's
// arguments only then:
//
//	if n, ok := lim.Allow(); ok {
//		log.Warn(msg, "peer", peer, "err", err, "suppressed", n)
//	}
package ratelog

import (
	"sync"
	"sync/atomic"
	"time"
)

// Every is how often one cause may log: one line per Every.
const Every = time.Second

// Limiter lets one line of its cause through per Every and counts the
// ones it holds back. Its zero value is ready. It is safe for concurrent
// use, and Allow does not allocate.
type Limiter struct {
	last       atomic.Int64 // nanotime of the last line let through; 0: none yet
	suppressed atomic.Uint64
}

// Allow reports whether a line may go out now and, if it may, how many
// lines of the cause were held back since the last one went out.
func (l *Limiter) Allow() (suppressed uint64, ok bool) { return l.allowAt(nanotime()) }

func (l *Limiter) allowAt(now int64) (uint64, bool) {
	last := l.last.Load()
	if last != 0 && now-last < int64(Every) || !l.last.CompareAndSwap(last, now) {
		l.suppressed.Add(1)
		return 0, false
	}
	return l.suppressed.Swap(0), true
}

// maxCauses bounds the limiters of a Set. Messages are constants, so a
// Set never gets near it; if one did, the messages past it would share
// one limiter rather than grow the set.
const maxCauses = 64

// Set is one Limiter per message, for warnings that each have a constant
// message: the message names the cause. Its zero value is ready. It is
// safe for concurrent use, and Get does not allocate once the message
// has its limiter (the first Get of a message copies the set).
type Set struct {
	m     atomic.Pointer[map[string]*Limiter]
	mu    sync.Mutex // serialises writers of m
	other Limiter    // for messages past maxCauses
}

// Get returns the limiter of msg, a constant message.
func (s *Set) Get(msg string) *Limiter {
	if m := s.m.Load(); m != nil {
		if l := (*m)[msg]; l != nil {
			return l
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var old map[string]*Limiter
	if m := s.m.Load(); m != nil {
		old = *m
	}
	if l := old[msg]; l != nil {
		return l
	}
	if len(old) >= maxCauses {
		return &s.other
	}
	next := make(map[string]*Limiter, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	l := new(Limiter)
	next[msg] = l
	s.m.Store(&next)
	return l
}

// epoch anchors nanotime's monotonic clock; nanotime is never 0 after it.
var epoch = time.Now()

func nanotime() int64 { return int64(time.Since(epoch)) + 1 }
