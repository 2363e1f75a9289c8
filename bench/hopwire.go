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

// benchWorkerWait is the scenarios' engine.Config.WorkerWait (newNode).
const benchWorkerWait = time.Second

// newNode starts a node of loops event loops that is closed when b's run
// ends.
//
// Its forwards wait up to benchWorkerWait for room in another loop:
// a scenario counts every message, and on a machine with fewer cores
// than loops a loop's thread can be off its CPU for longer than the
// default wait (engine.DefaultWorkerWait), which then refuses the forward
// and the run would take that for a lost message.
func newNode(b *testing.B, loops int) *engine.Node {
	n, err := engine.NewNode(engine.Config{Name: "bench", Loops: loops, WorkerWait: benchWorkerWait})
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
		n := newNode(b, benchLoops)
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

// chainLayout says where the workers of a chain benchmark run: chains
// independent chains on a node of loops event loops, stage j of chain i
// (0 its source, 1..k its hops, k+1 its sink) on loop place(i, j).
type chainLayout struct {
	loops, chains int
	place         func(chain, stage int) int
}

// ownLoops lays chains chains out on a node of loops loops, chain i all on
// loop i: no hop crosses loops.
func ownLoops(chains, loops int) chainLayout {
	return chainLayout{loops: loops, chains: chains, place: func(c, _ int) int { return c }}
}

// crossLoops lays chains chains out on a node of loops loops, stage j of
// chain i on loop (i+j) mod loops: with two loops or more, every hop
// crosses loops.
func crossLoops(chains, loops int) chainLayout {
	return chainLayout{loops: loops, chains: chains, place: func(c, j int) int { return (c + j) % loops }}
}

// chain returns a benchmark of chains laid out by l, each a source worker
// streaming 64 B messages through k engine.Hop workers to a sink. The
// sources are kicked at once and stream b.N messages in all, split evenly
// (the remainder to chain 0); the run ends when every sink has counted its
// share. It reports the total rate in msgs/s. A warm-up stream through
// every chain fills the node's pool first, so the timed run reuses
// buffers.
func chain(k int, l chainLayout) func(*testing.B) { return chainTimes(k, l, 1) }

// chainTimes is chain reporting its rate times over: N times one chain's
// rate is the baseline the scaling scenarios hold N chains against.
func chainTimes(k int, l chainLayout, times int) func(*testing.B) {
	return func(b *testing.B) {
		n := newNode(b, l.loops)
		cs := make([]chainEnds, l.chains)
		for i := range cs {
			cs[i] = startChain(b, n, k, i, l.place)
		}
		app := newApp(b, n)
		warmup := l.warmup()
		t := time.NewTimer(patience(l.chains*warmup + b.N))
		defer t.Stop()

		// stream kicks every armed chain and waits for their sinks. A
		// chain armed with none (b.N below the number of chains) sits it
		// out.
		stream := func() {
			for i := range cs {
				if cs[i].count == 0 {
					continue
				}
				if err := app.Send(cs[i].kick, nil); err != nil {
					fatalf(b, "kick %s: %v", cs[i].what, err)
				}
			}
			for i := range cs {
				if cs[i].count > 0 {
					wait(b, n, cs[i].sink.done, t, cs[i].what)
				}
			}
		}
		for i := range cs {
			cs[i].arm(warmup)
		}
		stream()
		for i, c := range shares(b.N, l.chains) {
			cs[i].arm(c)
		}

		b.ReportAllocs()
		b.ResetTimer()
		stream()
		b.StopTimer()
		reportRateTimes(b, times)
	}
}

// chainEnds is one chain's source and sink, and the route that kicks the
// source.
type chainEnds struct {
	src   *source
	sink  *sink
	kick  wire.Route
	what  string // for errors: "3-hop chain 2"
	count int    // what arm set the chain to stream
}

// startChain starts chain i of k hops on n, its stage j on loop place(i, j).
// Chain 0's workers are "source", "h1".."hk" and "sink"; chain i's carry
// the prefix "c<i>.".
func startChain(b *testing.B, n *engine.Node, k, i int, place func(chain, stage int) int) chainEnds {
	name := func(s string) string {
		if i == 0 {
			return s
		}
		return "c" + strconv.Itoa(i) + "." + s
	}
	route := make([]string, 0, k+1)
	for j, h := range hopNames(k) {
		route = append(route, name(h))
		startOn(b, n, place(i, j+1), engine.Hop{}, route[j])
	}
	route = append(route, name("sink"))
	c := chainEnds{
		src:  &source{route: localRoute(b, route...), payload: make([]byte, chainPayload)},
		sink: &sink{},
		kick: localRoute(b, name("source")),
		what: strconv.Itoa(k) + "-hop chain " + strconv.Itoa(i),
	}
	startOn(b, n, place(i, k+1), c.sink, name("sink"))
	startOn(b, n, place(i, 0), c.src, name("source"))
	return c
}

// arm sets the chain up to stream count messages. Call it only while none
// is on its way (see workers.go).
func (c *chainEnds) arm(count int) {
	c.count = count
	c.sink.want, c.sink.done, c.src.count = count, make(chan struct{}), count
}

// shares splits total into n counts of total/n, the remainder to the first.
func shares(total, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = total / n
	}
	s[0] += total % n
	return s
}

// chainPayload is the payload size of the chain scenarios.
const chainPayload = 64

// chainWarmup is how many messages a chain on one loop streams before it
// is timed.
const chainWarmup = 4 * sourceBurst

// warmup is how many messages each of l's chains streams before it is
// timed: a chain on one loop has a burst or two in flight, one spread
// over loops up to a few mailboxes' worth, and the pool must have built
// them all before the timed run, which then allocates nothing.
func (l chainLayout) warmup() int {
	if l.loops == 1 {
		return chainWarmup
	}
	return max(chainWarmup, 4*engine.DefaultMailboxSize*l.loops/l.chains)
}

func reportPerHop(b *testing.B, hopsPerOp int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*hopsPerOp), UnitNsPerHop)
}

func reportRate(b *testing.B) { reportRateTimes(b, 1) }

// reportRateTimes reports b's rate in msgs/s, times over.
func reportRateTimes(b *testing.B, times int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(times)*float64(b.N)/s, UnitMsgsPerSec)
	}
}
