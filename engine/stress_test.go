package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hopwire/hopwire/wire"
)

// Loops under load: whatever the workers do and however they are spread
// over the loops, every message is delivered or counted as refused, every
// sink keeps receiving while messages are on their way to it, and Close
// returns in time with nothing left out of the pool.

// countSink counts what reaches it.
type countSink struct{ got atomic.Int64 }

func (s *countSink) HandleMessage(*Context, *wire.Message) error { s.got.Add(1); return nil }

// kickSource is the source: it sends up to a burst per kick and,
// while it has messages left, sends itself the kick again; pushed back,
// it yields its turn.
type kickSource struct {
	route   wire.Route
	left    int
	burst   int
	ledger  *ledger
	payload []byte
	done    atomic.Bool
}

func (s *kickSource) HandleMessage(ctx *Context, kick *wire.Message) error {
	for i := 0; i < s.burst && s.left > 0; i++ {
		err := ctx.Send(s.route, s.payload)
		if errors.Is(err, ErrBackpressure) {
			s.ledger.refused.Add(1)
			break
		}
		if err != nil {
			return err
		}
		s.ledger.sent.Add(1)
		s.left--
	}
	if s.left > 0 {
		return ctx.Forward(kick)
	}
	s.ledger.kicksDone.Add(1)
	s.done.Store(true)
	return nil
}

// ledger is what the sources did, to hold the node's counters against.
type ledger struct {
	sent, refused, kicks, kicksDone atomic.Int64
}

// settled reports whether every message the sources made is accounted
// for: delivered, or counted by the node as refused, undeliverable or
// dropped at close. Kicks count as messages too: each ends when its
// source is done, or in the same counters.
func (l *ledger) settled(n *Node, delivered int64) (bool, string) {
	s := n.Stats()
	in := l.sent.Load() + l.refused.Load() + l.kicks.Load()
	out := delivered + int64(s.MailboxFull+s.Undeliverable+s.DroppedAtClose) + l.kicksDone.Load()
	return in == out, fmt.Sprintf("made %d (sent %d, refused at the source %d, kicks %d), accounted %d (delivered %d, kicks done %d, stats %+v)",
		in, l.sent.Load(), l.refused.Load(), l.kicks.Load(), out, delivered, l.kicksDone.Load(), s)
}

// progress watches sinks: while a sink has a source still sending to it,
// it must receive something at least once a window. A watcher that was
// itself kept from running for half a window (a machine too busy to say)
// does not blame the engine for that window.
type progress struct {
	window time.Duration
	sinks  []*countSink
	active []func() bool // active[i]: sink i still has a source sending to it
	stop   chan struct{}
	failed chan string
	wg     sync.WaitGroup
}

func watchProgress(window time.Duration, sinks []*countSink, active []func() bool) *progress {
	p := &progress{window: window, sinks: sinks, active: active, stop: make(chan struct{}), failed: make(chan string, 1)}
	p.wg.Add(1)
	go p.run()
	return p
}

func (p *progress) run() {
	defer p.wg.Done()
	tick := p.window / 20
	last := make([]int64, len(p.sinks))
	since := make([]time.Time, len(p.sinks))
	now := time.Now()
	for i := range since {
		since[i] = now
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	prev := now
	for {
		select {
		case <-p.stop:
			return
		case now = <-t.C:
		}
		late := now.Sub(prev) > p.window/2
		prev = now
		for i, s := range p.sinks {
			got := s.got.Load()
			if got != last[i] || late || !p.active[i]() {
				last[i], since[i] = got, now
				continue
			}
			if now.Sub(since[i]) > p.window {
				select {
				case p.failed <- fmt.Sprintf("sink %d received nothing for %v while its sources were still sending (%d so far)", i, p.window, got):
				default:
				}
				return
			}
		}
	}
}

func (p *progress) end() string {
	close(p.stop)
	p.wg.Wait()
	select {
	case s := <-p.failed:
		return s
	default:
		return ""
	}
}

// stallWindow is the longest a sink may go without a message while its
// sources send. The issue asked for 1 s; on the 2-core CI machine, with
// every core loaded and seven loops flooded by sources that ignore
// backpressure beyond their first hop, a flow through the busiest loops
// was seen to wait longer than that while others took the room (the
// engine shares room between senders, not between flows), so the window
// is 5 s, 10 s under the race detector. A stall of the kind this test is
// for does not end at all: the engine before the fix delivered nothing
// for as long as it ran.
func stallWindow() time.Duration {
	if raceEnabled {
		return 10 * time.Second
	}
	return 5 * time.Second
}

// waitSettled waits until every message is accounted for; a lost one
// fails the test after the generous wait.
func waitSettled(t *testing.T, n *Node, l *ledger, delivered func() int64) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ok, why := l.settled(n, delivered())
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("messages unaccounted for after %v: %s", wait, why)
		}
		time.Sleep(time.Millisecond)
	}
}

// closeInTime closes n and fails t if that takes longer than
// CloseTimeout (Close says so itself) or leaves messages out of the pool.
func closeInTime(t *testing.T, n *Node) {
	t.Helper()
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if live := n.Pool().Live(); live != 0 {
		t.Fatalf("%d messages out of the pool after Close", live)
	}
}

// The program, whole: a source on loop 0 streams through a hop on
// loop 1 to a sink on loop 0, re-kicking itself when pushed back. It
// delivered nothing and Close never returned: the source's self-kicks
// kept loop 0 from its inbox.
func TestStreamAcrossLoopsRegression(t *testing.T) {
	totals := []int{20_000, 2_000_000}
	if raceEnabled || testing.Short() {
		totals = []int{20_000, 200_000}
	}
	for _, total := range totals {
		t.Run(strconv.Itoa(total), func(t *testing.T) {
			n, err := NewNode(Config{Loops: 2})
			if err != nil {
				t.Fatal(err)
			}
			s := &countSink{}
			l := &ledger{}
			src := &kickSource{route: wire.MustParseRoute("hop => sink"), left: total, burst: 64, ledger: l, payload: make([]byte, 64)}
			for _, w := range []struct {
				loop int
				w    Worker
				addr string
			}{{1, Hop{}, "hop"}, {0, s, "sink"}, {0, src, "source"}} {
				if err := n.StartWorkerOn(w.loop, w.w, wire.LocalAddr(w.addr)); err != nil {
					t.Fatal(err)
				}
			}
			app := mustContext(t, n, "app")
			p := watchProgress(stallWindow(), []*countSink{s}, []func() bool{func() bool { return !src.done.Load() }})
			l.kicks.Add(1)
			if err := app.Send(wire.MustParseRoute("source"), nil); err != nil {
				t.Fatal(err)
			}
			waitSettled(t, n, l, s.got.Load)
			if why := p.end(); why != "" {
				t.Fatal(why)
			}
			if got := s.got.Load(); got < int64(total)/2 {
				t.Errorf("delivered %d of %d: the hop refused most (stats %+v)", got, total, n.Stats())
			}
			closeInTime(t, n)
		})
	}
}

// stressCase is one random topology: loops, mailbox size, the stages of
// each chain and how its messages are made.
type stressCase struct {
	seed       uint64
	loops      int
	mailbox    int
	perChain   int  // messages each chain's source makes
	closeEarly bool // Close while the sources still send
}

// TestLoopsStress runs random topologies of sources, hops, forwarders and
// sinks over 2 to 8 loops: chains whose every hop crosses loops, routes
// that go round between loops (the same hop workers, visited again),
// sources that re-kick themselves and app goroutines that send in bursts
// far beyond the mailboxes. The seed of a failing case is in its name.
func TestLoopsStress(t *testing.T) {
	cases, perChain := 16, 20_000
	if raceEnabled || testing.Short() {
		cases, perChain = 10, 3_000
	}
	base := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("HOPWIRE_STRESS_SEED"), 10, 64); err == nil {
		base, cases = v, 1 // rerun one case: the number in a failed case's name
	}
	for i := range cases {
		seed := base + uint64(i)
		r := rand.New(rand.NewPCG(seed, 16))
		c := stressCase{
			seed:       seed,
			loops:      2 + r.IntN(7),
			mailbox:    []int{64, 256, 1024, 4096}[r.IntN(4)],
			perChain:   perChain,
			closeEarly: i%4 == 3,
		}
		t.Run(fmt.Sprintf("seed=%d/loops=%d/mailbox=%d/closeEarly=%v", c.seed, c.loops, c.mailbox, c.closeEarly), func(t *testing.T) {
			runStress(t, c)
		})
	}
}

func runStress(t *testing.T, c stressCase) {
	r := rand.New(rand.NewPCG(c.seed, 17))
	n, err := NewNode(Config{Loops: c.loops, MailboxSize: c.mailbox})
	if err != nil {
		t.Fatal(err)
	}
	start := func(loop int, w Worker, name string) {
		t.Helper()
		if err := n.StartWorkerOn(loop, w, wire.LocalAddr(name)); err != nil {
			t.Fatal(err)
		}
	}
	// Two hops per loop, and a forwarder per loop that hands on to a hop
	// of the next loop: the middle of every route is drawn from these.
	type stage struct {
		name string
		loop int // where the message is once this stage has passed it on
	}
	var middle []stage
	for lp := range c.loops {
		for j := range 2 {
			name := fmt.Sprintf("h%d.%d", lp, j)
			start(lp, Hop{}, name)
			middle = append(middle, stage{name, lp})
		}
		next := (lp + 1) % c.loops
		name := fmt.Sprintf("f%d", lp)
		start(lp, Forwarder{Route: wire.Route{wire.LocalAddr(fmt.Sprintf("h%d.0", next))}}, name)
		middle = append(middle, stage{name, next})
	}
	sinks := make([]*countSink, c.loops)
	for lp := range sinks {
		sinks[lp] = &countSink{}
		start(lp, sinks[lp], fmt.Sprintf("sink%d", lp))
	}

	l := &ledger{}
	app := mustContext(t, n, "app")
	var apps sync.WaitGroup
	stopApps := make(chan struct{})
	feeding := make([][]*atomic.Bool, c.loops) // per sink: its chains' sources' done flags
	payload := make([]byte, 64)
	var kicks []wire.Route
	for i := range c.loops + r.IntN(2*c.loops) {
		srcLoop := r.IntN(c.loops)
		at := srcLoop
		crossEvery := r.IntN(2) == 0 // else stages may share a loop
		var route wire.Route
		for range 1 + r.IntN(6) {
			s := middle[r.IntN(len(middle))]
			for crossEvery && s.loop == at {
				s = middle[r.IntN(len(middle))]
			}
			route = append(route, wire.LocalAddr(s.name))
			at = s.loop
		}
		sink := r.IntN(c.loops)
		for crossEvery && sink == at {
			sink = r.IntN(c.loops)
		}
		route = append(route, wire.LocalAddr(fmt.Sprintf("sink%d", sink)))

		if r.IntN(3) > 0 {
			name := "src" + strconv.Itoa(i)
			src := &kickSource{route: route, left: c.perChain, burst: 1 + r.IntN(256), ledger: l, payload: payload}
			start(srcLoop, src, name)
			feeding[sink] = append(feeding[sink], &src.done)
			kicks = append(kicks, wire.Route{wire.LocalAddr(name)})
			continue
		}
		// An app goroutine sending in bursts: its Send waits for room.
		a := mustContext(t, n, "app"+strconv.Itoa(i))
		done := new(atomic.Bool)
		feeding[sink] = append(feeding[sink], done)
		apps.Add(1)
		go func() {
			defer apps.Done()
			defer done.Store(true)
			for range c.perChain {
				select {
				case <-stopApps:
					return
				default:
				}
				err := a.Send(route, payload)
				switch {
				case err == nil:
					l.sent.Add(1)
				case errors.Is(err, ErrBackpressure):
					l.refused.Add(1)
				default:
					return // closed
				}
			}
		}()
	}
	active := make([]func() bool, c.loops)
	for i, flags := range feeding {
		active[i] = func() bool {
			for _, f := range flags {
				if !f.Load() {
					return true
				}
			}
			return false
		}
	}
	p := watchProgress(stallWindow(), sinks, active)
	for _, k := range kicks {
		l.kicks.Add(1)
		if err := app.Send(k, nil); err != nil {
			t.Fatal(err)
		}
	}
	delivered := func() int64 {
		var d int64
		for _, s := range sinks {
			d += s.got.Load()
		}
		return d
	}
	if c.closeEarly {
		// Let the streams get going, then close under them.
		for deadline := time.Now().Add(wait); delivered() < int64(c.perChain/8); {
			if time.Now().After(deadline) {
				t.Fatalf("delivered %d after %v; stats %+v\n%s", delivered(), wait, n.Stats(), dumpLoops(n))
			}
			time.Sleep(time.Millisecond)
		}
		closeInTime(t, n)
		close(stopApps)
		apps.Wait()
	} else {
		waitAll := func() bool {
			for _, flags := range feeding {
				for _, f := range flags {
					if !f.Load() {
						return false
					}
				}
			}
			return true
		}
		for deadline := time.Now().Add(10 * wait); !waitAll(); {
			select {
			case why := <-p.failed:
				_, acct := l.settled(n, delivered())
				t.Fatalf("%s\n%s%s", why, dumpLoops(n), acct)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("sources not done after %v; stats %+v\n%s", 10*wait, n.Stats(), dumpLoops(n))
			}
			time.Sleep(time.Millisecond)
		}
		apps.Wait()
		waitSettled(t, n, l, delivered)
		closeInTime(t, n)
	}
	if why := p.end(); why != "" {
		t.Fatal(why)
	}
	if ok, why := l.settled(n, delivered()); !ok {
		t.Fatalf("after Close: %s", why)
	}
	t.Logf("delivered %d; stats %+v", delivered(), n.Stats())
}

func dumpLoops(n *Node) string {
	var b []byte
	for _, l := range n.loops {
		b = fmt.Appendf(b, "loop %d: state %d inbox %d stash full %v waiting %v tasks %v\n", l.id, l.state.Load(), l.inbox.Len(), l.stashFull.Load(), l.waitingOn.Load() != nil, l.hasTasks.Load())
	}
	return string(b)
}
