package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hopwire/hopwire/wire"
)

// pinger bounces one message along a route and back, rounds times, then
// reports. The first message it gets is the kick from the benchmark: it
// turns that into the message that circulates, so the payload is copied
// once, at the kick, and never again.
type pinger struct {
	route   wire.Route
	rounds  int
	started bool
	done    chan struct{}
}

func (p *pinger) HandleMessage(ctx *Context, m *wire.Message) error {
	if !p.started {
		p.started = true
		if err := m.Turn(ctx.Address()); err != nil {
			return err
		}
		if err := m.Redirect(p.route); err != nil {
			return err
		}
		return ctx.Forward(m)
	}
	if p.rounds--; p.rounds == 0 {
		close(p.done)
		return nil
	}
	return ctx.Reply(m)
}

// pingPong runs b.N round trips of a message along route (from a pinger
// on loop 0) and reports ns/hop for hopsPerRound deliveries per round.
func pingPong(b *testing.B, n *Node, route wire.Route, hopsPerRound, payload int) {
	b.Helper()
	p := &pinger{route: route, rounds: b.N, done: make(chan struct{})}
	if err := n.StartWorkerOn(0, p, wire.LocalAddr("pinger")); err != nil {
		b.Fatal(err)
	}
	app, err := n.NewContext(wire.LocalAddr("bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := app.Send(wire.MustParseRoute("pinger"), make([]byte, payload)); err != nil {
		b.Fatal(err)
	}
	<-p.done
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*hopsPerRound), "ns/hop")
}

func benchNode(b *testing.B, loops int) *Node {
	n, err := NewNode(Config{Loops: loops})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close() })
	return n
}

var payloadSizes = []int{64, 64 << 10}

// BenchmarkSameLoopHop: pinger and echo share a loop; a round is two hops.
func BenchmarkSameLoopHop(b *testing.B) {
	for _, size := range payloadSizes {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) {
			n := benchNode(b, 2)
			n.StartWorkerOn(0, Echo{}, wire.LocalAddr("echo"))
			pingPong(b, n, wire.MustParseRoute("echo"), 2, size)
		})
	}
}

// BenchmarkCrossLoopPingPong: pinger on loop 0, echo on loop 1, so every
// hop crosses loops through a mailbox: hop latency, wake-ups included.
func BenchmarkCrossLoopPingPong(b *testing.B) {
	for _, size := range payloadSizes {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) {
			n := benchNode(b, 2)
			n.StartWorkerOn(1, Echo{}, wire.LocalAddr("echo"))
			pingPong(b, n, wire.MustParseRoute("echo"), 2, size)
		})
	}
}

// BenchmarkCrossLoopPipelined: a source worker on loop 0 streams 64 B
// messages to a sink on loop 1: the throughput of one mailbox between two
// loops, with backpressure (the source backs off on ErrMailboxFull).
func BenchmarkCrossLoopPipelined(b *testing.B) { crossLoopStream(b, benchNode(b, 2)) }

// crossLoopStream streams b.N 64 B messages from a source on loop 0 of n
// to a sink on its loop 1 and reports msgs/s, ns/hop and the refusals
// for a full mailbox.
func crossLoopStream(b *testing.B, n *Node) {
	stream(b, n, wire.MustParseRoute("sink"), 1)
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N), "ns/hop")
}

// BenchmarkCrossLoopChain: a source on loop 0 streams 64 B messages
// through three hops that alternate loops (h1 on 1, h2 on 0, h3 on 1) to
// a sink on loop 0: every hop crosses a mailbox, both ways.
func BenchmarkCrossLoopChain(b *testing.B) {
	n := benchNode(b, 2)
	for i, h := range hopNames(3) {
		n.StartWorkerOn(1-i%2, Hop{}, wire.LocalAddr(h))
	}
	stream(b, n, wire.MustParseRoute("h1 => h2 => h3 => sink"), 0)
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N*3), "ns/hop")
}

// stream times b.N 64 B messages from a source on loop 0 of n along
// route, which ends at the sink it starts on sinkLoop, and reports msgs/s
// and the refusals for a full mailbox.
func stream(b *testing.B, n *Node, route wire.Route, sinkLoop int) {
	s := &sink{want: b.N, done: make(chan struct{})}
	n.StartWorkerOn(sinkLoop, s, wire.LocalAddr("sink"))
	n.StartWorkerOn(0, &source{route: route, payload: make([]byte, 64), count: b.N}, wire.LocalAddr("source"))
	app, _ := n.NewContext(wire.LocalAddr("app"))
	b.ReportAllocs()
	b.ResetTimer()
	if err := app.Send(wire.MustParseRoute("source"), nil); err != nil {
		b.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		b.Fatalf("sink got %d of %d messages; stats %+v", b.N-s.want, b.N, n.Stats())
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(n.Stats().MailboxFull), "full")
}

// BenchmarkForward: pinger -> forwarder -> echo -> pinger on one loop; a
// round is three hops.
func BenchmarkForward(b *testing.B) {
	n := benchNode(b, 2)
	n.StartWorkerOn(0, Echo{}, wire.LocalAddr("echo"))
	n.StartWorkerOn(0, Forwarder{Route: wire.MustParseRoute("echo")}, wire.LocalAddr("fwd"))
	pingPong(b, n, wire.MustParseRoute("fwd"), 3, 64)
}

// BenchmarkEchoRequest: an app goroutine's request/reply to an echo
// worker: two goroutine hand-offs per operation.
func BenchmarkEchoRequest(b *testing.B) {
	n := benchNode(b, 2)
	n.StartWorker(Echo{}, wire.LocalAddr("echo"))
	app, _ := n.NewContext(wire.LocalAddr("app"))
	route := wire.MustParseRoute("echo")
	payload := make([]byte, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r, err := app.Request(route, payload, 10*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		r.Release()
	}
}

var chainLens = []int{1, 3, 10}

func hopNames(k int) []string {
	s := make([]string, k)
	for i := range s {
		s[i] = fmt.Sprintf("h%d", i+1)
	}
	return s
}

// BenchmarkChainRoundTrip: a message goes pinger -> h1..hk -> echo and
// back through the hops, all on one loop: 2(k+1) hops a round.
func BenchmarkChainRoundTrip(b *testing.B) {
	for _, k := range chainLens {
		b.Run(fmt.Sprintf("hops=%d", k), func(b *testing.B) {
			n := benchNode(b, 2)
			names := hopNames(k)
			for _, h := range names {
				n.StartWorkerOn(0, Hop{}, wire.LocalAddr(h))
			}
			n.StartWorkerOn(0, Echo{}, wire.LocalAddr("echo"))
			route := wire.MustParseRoute(strings.Join(append(names, "echo"), "=>"))
			pingPong(b, n, route, 2*(k+1), 64)
		})
	}
}

// sink counts messages and reports when it has seen want of them.
type sink struct {
	want int
	done chan struct{}
}

func (s *sink) HandleMessage(ctx *Context, m *wire.Message) error {
	if s.want--; s.want == 0 {
		close(s.done)
	}
	return nil
}

// source is a worker that sends count messages along route, burst at a
// time: after each burst it sends itself the kick again, so the loop runs
// the burst through the chain before it makes the next one.
type source struct {
	route   wire.Route
	payload []byte
	count   int
}

const sourceBurst = 64

func (s *source) HandleMessage(ctx *Context, kick *wire.Message) error {
	for i := 0; i < sourceBurst && s.count > 0; i++ {
		if err := ctx.Send(s.route, s.payload); err != nil {
			if errors.Is(err, ErrMailboxFull) {
				break // pushed back: try again after the loop's other work
			}
			return err
		}
		s.count--
	}
	if s.count > 0 {
		return ctx.Forward(kick) // its onward route is [source]: back to us
	}
	return nil
}

// BenchmarkChainPipelined is the throughput of a k-hop chain ending in a
// sink, 64 B payloads, in four set-ups measured in one run:
//
//	app     the benchmark goroutine sends b.N messages through an app
//	        context; the chain runs on loop 0
//	source  a source worker on loop 0 makes the messages; the whole
//	        chain runs to completion on that loop
//	chan    the baseline: the benchmark goroutine builds the same pooled
//	        messages and k goroutines linked by buffered channels do the
//	        same in-place Hop
func BenchmarkChainPipelined(b *testing.B) {
	for _, k := range chainLens {
		for _, mode := range []string{"app", "source"} {
			b.Run(fmt.Sprintf("hops=%d/%s", k, mode), func(b *testing.B) {
				n := benchNode(b, 2)
				names := hopNames(k)
				for _, h := range names {
					n.StartWorkerOn(0, Hop{}, wire.LocalAddr(h))
				}
				s := &sink{want: b.N, done: make(chan struct{})}
				n.StartWorkerOn(0, s, wire.LocalAddr("sink"))
				app, _ := n.NewContext(wire.LocalAddr("app"))
				route := wire.MustParseRoute(strings.Join(append(names, "sink"), "=>"))
				payload := make([]byte, 64)
				if mode != "app" {
					n.StartWorkerOn(0, &source{route: route, payload: payload, count: b.N}, wire.LocalAddr("source"))
				}
				b.ReportAllocs()
				b.ResetTimer()
				if mode == "app" {
					for i := 0; i < b.N; i++ {
						if err := app.Send(route, payload); err != nil {
							b.Fatal(err)
						}
					}
				} else if err := app.Send(wire.MustParseRoute("source"), nil); err != nil {
					b.Fatal(err)
				}
				select {
				case <-s.done:
				case <-time.After(time.Minute):
					b.Fatalf("sink got %d of %d messages; stats %+v", b.N-s.want, b.N, n.Stats())
				}
				b.StopTimer()
				reportChain(b, k)
			})
		}
		b.Run(fmt.Sprintf("hops=%d/chan", k), func(b *testing.B) { chanChain(b, k) })
	}
}

func reportChain(b *testing.B, k int) {
	ns := float64(b.Elapsed().Nanoseconds())
	b.ReportMetric(float64(b.N)/(ns/1e9), "msgs/s")
	b.ReportMetric(ns/float64(b.N*k), "ns/hop")
}

// chanChain is the Go-channel baseline: k stage goroutines, each taking a
// message from its input channel, doing the same in-place Hop, and passing
// it on; a sink goroutine releases them.
func chanChain(b *testing.B, k int) {
	pool := wire.NewPool(0)
	chans := make([]chan *wire.Message, k+1)
	for i := range chans {
		chans[i] = make(chan *wire.Message, DefaultMailboxSize)
	}
	for i := 0; i < k; i++ {
		in, out := chans[i], chans[i+1]
		go func() {
			for m := range in {
				m.Hop()
				out <- m
			}
			close(out)
		}()
	}
	done := make(chan struct{})
	go func() {
		for m := range chans[k] {
			m.Release()
		}
		close(done)
	}()
	route := wire.MustParseRoute(strings.Join(append(hopNames(k), "sink"), "=>"))
	ret := wire.MustParseRoute("app")
	payload := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := pool.Build(route, ret, payload)
		if err != nil {
			b.Fatal(err)
		}
		chans[0] <- m
	}
	close(chans[0])
	<-done
	b.StopTimer()
	reportChain(b, k)
}

// BenchmarkStartStopAmong starts and stops a worker on a node that
// already hosts n: what a portal session's worker costs to open and
// close beside n others.
func BenchmarkStartStopAmong(b *testing.B) {
	for _, among := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprint(among), func(b *testing.B) {
			n := newNode(b, Config{})
			for i := range among {
				mustStart(b, n, Echo{}, fmt.Sprintf("w%d", i))
			}
			addr := wire.LocalAddr("session")
			b.ReportAllocs()
			for b.Loop() {
				if err := n.StartWorker(Echo{}, addr); err != nil {
					b.Fatal(err)
				}
				if err := n.StopWorker(addr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMailboxSize is BenchmarkCrossLoopPipelined at several
// MailboxSize values: what a loop's inbox size does to a stream from one
// loop to another (the sender waits WorkerWait when the inbox is full).
func BenchmarkMailboxSize(b *testing.B) {
	for _, size := range []int{64, 1024, DefaultMailboxSize, 65536} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			n, err := NewNode(Config{Loops: 2, MailboxSize: size})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { n.Close() })
			crossLoopStream(b, n)
		})
	}
}
