package bench

import (
	"strconv"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// The hopwire side of the scenarios: workers on a node's event loops.

// benchLoops is the number of event loops of a benchmark node: two, so a
// scenario can put workers on one loop or across two.
const benchLoops = 2

// A scenario waits for its last message at most stallTimeout plus opBudget
// per operation before it gives up: long enough for any run however long
// the benchtime, short enough that a lost message fails the run instead of
// hanging it.
const (
	stallTimeout = 30 * time.Second
	opBudget     = 100 * time.Microsecond
)

// patience returns how long a run of n operations may take.
func patience(n int) time.Duration { return stallTimeout + time.Duration(n)*opBudget }

// newNode starts a node that is closed when b's run ends.
func newNode(b *testing.B) *engine.Node {
	n, err := engine.NewNode(engine.Config{Name: "bench", Loops: benchLoops})
	if err != nil {
		fatalf(b, "new node: %v", err)
	}
	b.Cleanup(func() { n.Close() })
	return n
}

func startOn(b *testing.B, n *engine.Node, loop int, w engine.Worker, addr string) {
	if err := n.StartWorkerOn(loop, w, wire.LocalAddr(addr)); err != nil {
		fatalf(b, "start %s on loop %d: %v", addr, loop, err)
	}
}

func newApp(b *testing.B, n *engine.Node) *engine.App {
	app, err := n.NewContext(wire.LocalAddr("app"))
	if err != nil {
		fatalf(b, "app context: %v", err)
	}
	return app
}

// localRoute returns the route through the local addresses names.
func localRoute(b *testing.B, names ...string) wire.Route {
	r := make(wire.Route, len(names))
	for i, s := range names {
		a, err := wire.NewAddress(wire.Local, s)
		if err != nil {
			fatalf(b, "address %q: %v", s, err)
		}
		r[i] = a
	}
	return r
}

// hopNames returns "h1".."hk".
func hopNames(k int) []string {
	s := make([]string, k)
	for i := range s {
		s[i] = "h" + strconv.Itoa(i+1)
	}
	return s
}

// wait waits for done, failing b when t fires first. The caller makes t,
// with patience, before the timed part.
func wait(b *testing.B, n *engine.Node, done <-chan struct{}, t *time.Timer, what string) {
	select {
	case <-done:
	case <-t.C:
		fatalf(b, "%s: not done in time (a message lost?); node stats %+v", what, n.Stats())
	}
}

// pingPong returns a benchmark of b.N round trips of a payload-byte
// message between a pinger on loop 0 and an engine.Echo on echoLoop: two
// hops a round, reported in ns/hop.
func pingPong(echoLoop, payload int) func(*testing.B) {
	return func(b *testing.B) {
		n := newNode(b)
		startOn(b, n, echoLoop, engine.Echo{}, "echo")
		p := &pinger{route: localRoute(b, "echo"), rounds: b.N, done: make(chan struct{})}
		startOn(b, n, 0, p, "pinger")
		app := newApp(b, n)
		kick := localRoute(b, "pinger")
		data := make([]byte, payload)
		t := time.NewTimer(patience(b.N))
		defer t.Stop()

		b.ReportAllocs()
		b.ResetTimer()
		if err := app.Send(kick, data); err != nil {
			fatalf(b, "kick: %v", err)
		}
		wait(b, n, p.done, t, "ping-pong")
		b.StopTimer()
		reportPerHop(b, 2)
	}
}

// chain returns a benchmark of a source worker on loop 0 streaming b.N
// 64 B messages through k engine.Hop workers to a sink, all on loop 0,
// reported in msgs/s. A warm-up stream fills the node's pool first, so the
// timed run reuses buffers.
func chain(k int) func(*testing.B) {
	return func(b *testing.B) {
		n := newNode(b)
		names := hopNames(k)
		for _, h := range names {
			startOn(b, n, 0, engine.Hop{}, h)
		}
		s := &sink{}
		startOn(b, n, 0, s, "sink")
		src := &source{route: localRoute(b, append(names, "sink")...), payload: make([]byte, chainPayload)}
		startOn(b, n, 0, src, "source")
		app := newApp(b, n)
		kick := localRoute(b, "source")
		what := strconv.Itoa(k) + "-hop chain"
		t := time.NewTimer(patience(chainWarmup + b.N))
		defer t.Stop()

		stream := func() {
			if err := app.Send(kick, nil); err != nil {
				fatalf(b, "kick: %v", err)
			}
			wait(b, n, s.done, t, what)
		}
		s.want, s.done, src.count = chainWarmup, make(chan struct{}), chainWarmup
		stream()
		s.want, s.done, src.count = b.N, make(chan struct{}), b.N

		b.ReportAllocs()
		b.ResetTimer()
		stream()
		b.StopTimer()
		reportRate(b)
	}
}

// chainPayload is the payload size of the chain scenarios.
const chainPayload = 64

// chainWarmup is how many messages a chain streams before it is timed.
const chainWarmup = 4 * sourceBurst

func reportPerHop(b *testing.B, hopsPerOp int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*hopsPerOp), UnitNsPerHop)
}

func reportRate(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, UnitMsgsPerSec)
	}
}
