package udp

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/internal/nodetest"
	"github.com/hopwire/hopwire/wire"
)

// Benchmarks put every figure beside its baseline measured in the same
// run: raw Go net.UDPConn on the same loopback. Machines are shared and
// noisy; compare the ratios, not the absolute times.

func benchNode(b *testing.B, name string) *testNode {
	return benchNodeCfg(b, name, Config{})
}

func benchNodeCfg(b *testing.B, name string, cfg Config) *testNode {
	b.Helper()
	n, err := engine.NewNode(engine.Config{Name: name, Loops: 1})
	if err != nil {
		b.Fatal(err)
	}
	cfg.SocketBuffer = 1 << 20
	tr, err := New(n, testConfig(cfg))
	if err != nil {
		n.Close()
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close() })
	return &testNode{n, tr}
}

// rawPingPong is the baseline: a payload bounced between two goroutines
// over two loopback UDP sockets.
type rawPingPong struct {
	c    *net.UDPConn
	buf  []byte
	hist *hdrhistogram.Histogram
}

func newRawPingPong(b *testing.B, payload int) *rawPingPong {
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	s, err := net.ListenUDP("udp", lo)
	if err != nil {
		b.Fatal(err)
	}
	c, err := net.DialUDP("udp", lo, s.LocalAddr().(*net.UDPAddr))
	if err != nil {
		s.Close()
		b.Fatal(err)
	}
	go func() { // the echo side
		buf := make([]byte, 64<<10)
		for {
			n, from, err := s.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if _, err := s.WriteToUDPAddrPort(buf[:n], from); err != nil {
				return
			}
		}
	}()
	b.Cleanup(func() { c.Close(); s.Close() })
	return &rawPingPong{c: c, buf: make([]byte, payload), hist: nodetest.NewHist()}
}

func (r *rawPingPong) rounds(b *testing.B, k int) {
	for i := 0; i < k; i++ {
		t0 := time.Now()
		if _, err := r.c.Write(r.buf); err != nil {
			b.Fatal(err)
		}
		_ = r.c.SetReadDeadline(t0.Add(wait))
		if _, err := r.c.Read(r.buf); err != nil {
			b.Fatal(err)
		}
		r.hist.RecordValue(int64(time.Since(t0)))
	}
}

// benchCases are the payload sizes the benchmarks run, and the busy-poll
// setting of their nodes (0: off).
var benchCases = []benchCase{{64, 0}, {1024, 0}, {64, 50 * time.Microsecond}}

type benchCase struct {
	size int
	poll time.Duration
}

func (c benchCase) name() string {
	if c.poll > 0 {
		return fmt.Sprintf("payload=%d/busypoll=%v", c.size, c.poll)
	}
	return fmt.Sprintf("payload=%d", c.size)
}

// BenchmarkUDPHopRoundTrip is one UDP hop each way: a pinger worker on
// one node, engine.Echo on another, request and reply as datagrams,
// against a raw net.UDPConn ping-pong of the same payload. The two run in
// alternating blocks so that drift in the machine's load hits both.
// Reported: p50/p99 round trip of each and their ratio; allocs/op is per
// round trip, both nodes included (gnet allocates on each datagram it
// reads). A lost datagram would stall the benchmark: on loopback with
// one message in flight none is lost.
//
// Read the ratio knowing what the baseline does: in one process Go's
// netpoller runs both raw ends on one thread, with no thread wake-up,
// whereas each gnet loop sleeps in epoll_wait on a thread of its own and
// is woken for every datagram (see the package doc), as two processes
// pinging each other would be. The busypoll variant has both nodes'
// sockets poll (Config.BusyPoll), which takes the wake-ups and most of
// gnet's allocations away, for CPU.
func BenchmarkUDPHopRoundTrip(b *testing.B) {
	for _, c := range benchCases {
		size := c.size
		b.Run(c.name(), func(b *testing.B) {
			server := benchNodeCfg(b, "server", Config{BusyPoll: c.poll})
			server.start(b, engine.Echo{}, "echoer")
			s := server.bind(b, "echoer")
			client := benchNodeCfg(b, "client", Config{BusyPoll: c.poll})
			const block = 200
			p := nodetest.NewPinger(wire.MustParseRoute(s.Addr().String() + " => echoer"))
			client.start(b, p, "pinger")
			app := client.app(b, "bench")
			payload := make([]byte, size)
			kick := func(k int) {
				p.Rounds = k
				if err := app.Send(wire.MustParseRoute("pinger"), payload); err != nil {
					b.Fatal(err)
				}
				select {
				case <-p.Done:
				case <-time.After(wait):
					b.Fatalf("no reply: lost datagram? client %+v server %+v", client.tr.Stats(), server.tr.Stats())
				}
			}
			raw := newRawPingPong(b, size)
			kick(block) // learn the peers and warm up both
			raw.rounds(b, block)
			p.Hist.Reset()
			raw.hist.Reset()

			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += block {
				k := min(block, b.N-done)
				kick(k)
				b.StopTimer()
				raw.rounds(b, k)
				b.StartTimer()
			}
			b.StopTimer()
			nodetest.ReportLatency(b, "hop-", p.Hist)
			nodetest.ReportLatency(b, "raw-", raw.hist)
			b.ReportMetric(float64(p.Hist.ValueAtQuantile(50))/float64(raw.hist.ValueAtQuantile(50)), "p50-ratio")
			b.ReportMetric(float64(p.Hist.ValueAtQuantile(99))/float64(raw.hist.ValueAtQuantile(99)), "p99-ratio")
		})
	}
}

// BenchmarkUDPSend is Send alone: build a message and send it as one
// datagram to a raw socket that does not read, against a raw
// net.UDPConn WriteTo of the same payload. allocs/op is Send's.
func BenchmarkUDPSend(b *testing.B) {
	n := benchNode(b, "n")
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	sink, err := net.ListenUDP("udp", lo)
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	onward := wire.MustParseRoute("2#" + sink.LocalAddr().String() + " => echoer")
	ret := wire.MustParseRoute("app")
	payload := make([]byte, 64)
	b.Run("hopwire", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			m, err := n.Pool().Build(onward, ret, payload)
			if err != nil {
				b.Fatal(err)
			}
			if err := n.tr.Send(m); err != nil && err != ErrBusy {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		c, err := net.ListenUDP("udp", lo)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		to := sink.LocalAddr().(*net.UDPAddr).AddrPort()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := c.WriteToUDPAddrPort(payload, to); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Throughput: a source keeps a window of messages in flight to a sink on
// another socket, and the hop and raw runs alternate in blocks.
const (
	// tputWindow is how many messages a source keeps in flight past what
	// its sink has counted: enough to keep both ends busy, and well under
	// what the sink's receive buffer holds (1 MiB asked; the kernel
	// charges a 1 KiB datagram about 2.3 KiB), so a sink that keeps up
	// loses nothing.
	tputWindow = 128
	// tputStall bounds every wait of a source: a window that sees nothing
	// arrive for this long is written off as lost and the source goes on;
	// the wait for a block's last messages ends the same way. Short, as
	// lost messages hold their place in the window until it passes; one
	// that was only late and arrives after all makes room again, and is
	// not counted lost.
	tputStall = 10 * time.Millisecond
	// tputBlock is how many messages each side sends before the other
	// takes its turn, so that drift in the machine's load hits both.
	tputBlock = 5000
)

// tally counts what a sink received, for its source to read, and wakes
// the source when the count it waits for is reached.
type tally struct {
	n      atomic.Int64
	last   atomic.Int64  // nanotime() of the latest arrival
	wakeAt atomic.Int64  // if > 0, the count at which add wakes the source
	wake   chan struct{} // capacity 1
}

func newTally() *tally { return &tally{wake: make(chan struct{}, 1)} }

// add counts one arrival. Any goroutine; it does not block.
func (t *tally) add() {
	n := t.n.Add(1)
	t.last.Store(nanotime())
	if w := t.wakeAt.Load(); w > 0 && n >= w && t.wakeAt.CompareAndSwap(w, 0) {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// waitFor parks the source until the count reaches n, or nothing has
// arrived for tputStall, and reports whether it reached n. Parked, not
// spinning: the sink (with GOMAXPROCS=1, Go's netpoller itself) needs
// the CPU. One waiter at a time.
func (t *tally) waitFor(n int64, timer *time.Timer) bool {
	for {
		seen := t.n.Load()
		if seen >= n {
			return true
		}
		t.wakeAt.Store(n)
		if t.n.Load() >= n { // counted before add could see wakeAt
			t.wakeAt.Store(0)
			return true
		}
		timer.Reset(tputStall)
		select {
		case <-t.wake: // maybe an old wake-up: look again
			timer.Stop()
		case <-timer.C:
			if t.n.Load() == seen {
				t.wakeAt.Store(0)
				return false
			}
		}
	}
}

// tput sums a source's blocks.
type tput struct {
	sink    *tally
	base    int64 // what sink had counted before the first block
	sent    int64
	elapsed time.Duration // first send to last arrival, summed over blocks
	timer   *time.Timer
}

func newTput(sink *tally) *tput {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	return &tput{sink: sink, base: sink.n.Load(), timer: timer}
}

// arrived is how many of the messages sent have arrived, late ones
// included.
func (r *tput) arrived() int64 { return min(r.sink.n.Load()-r.base, r.sent) }

// pump sends one block of k messages with send, at most tputWindow in
// flight past what the sink has counted: on a full window it waits for
// half of it to drain. Then it waits for the last of them. A send that
// reports the datagram dropped (ErrBusy) counts as sent and lost. Every
// wait ends after tputStall without an arrival, so loss costs time,
// never a hang.
func (r *tput) pump(b *testing.B, k int, send func() error) {
	sink := r.sink
	base := sink.n.Load()
	start := nanotime()
	var sent, off int64 // off: in flight once, written off as lost
	for sent < int64(k) {
		if sent-(sink.n.Load()-base)-off >= tputWindow {
			if !sink.waitFor(base+sent-off-tputWindow/2, r.timer) {
				off = sent - (sink.n.Load() - base)
			}
		}
		if err := send(); err != nil && !errors.Is(err, ErrBusy) {
			b.Fatal(err)
		}
		sent++
	}
	sink.waitFor(base+sent, r.timer)
	end := sink.last.Load()
	if sink.n.Load() == base || end < start {
		end = nanotime()
	}
	r.sent += sent
	r.elapsed += time.Duration(end - start)
}

// rate is the messages that arrived per second of the blocks.
func (r *tput) rate() float64 { return float64(r.arrived()) / r.elapsed.Seconds() }

func (r *tput) report(b *testing.B, prefix string, payload int) {
	b.ReportMetric(r.rate(), prefix+"msgs/s")
	b.ReportMetric(r.rate()*float64(payload)/1e6, prefix+"MB/s")
	b.ReportMetric(100*float64(r.sent-r.arrived())/float64(r.sent), prefix+"lost-%")
}

// rawSink is the baseline's sink: a goroutine counting the datagrams
// that reach a net.UDPConn.
func rawSink(b *testing.B, buffer int) (*net.UDPConn, *tally) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.SetReadBuffer(buffer); err != nil {
		c.Close()
		b.Fatal(err)
	}
	t := newTally()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			if _, err := c.Read(buf); err != nil {
				return // closed
			}
			t.add()
		}
	}()
	b.Cleanup(func() { c.Close(); <-done })
	return c, t
}

// BenchmarkUDPThroughput is one-way pipelined throughput over one socket
// pair: an app context on one node sends messages of 64 B and 1 KiB
// through the transport to a counting worker on another node, against
// two raw net.UDPConn sending the same payloads, the same count, with the
// same window. One op is one message; ns/op, allocs/op and B/op are the
// hop side's (the receiving side's gnet allocates on each datagram).
// Reported: msgs/s and payload MB/s of each, the share of messages that
// never arrived (UDP drops when a receive buffer is full; nothing is
// retried), and hop/raw msgs/s. In the busypoll variant the receiving
// socket polls (Config.BusyPoll).
func BenchmarkUDPThroughput(b *testing.B) {
	const buffer = 1 << 20
	for _, c := range benchCases {
		size := c.size
		b.Run(c.name(), func(b *testing.B) {
			server := benchNodeCfg(b, "server", Config{BusyPoll: c.poll})
			hopSink := newTally()
			server.start(b, engine.WorkerFunc(func(*engine.Context, *wire.Message) error {
				hopSink.add()
				return nil
			}), "sink")
			s := server.bind(b, "sink")
			client := benchNode(b, "client")
			app := client.app(b, "source")
			route := wire.MustParseRoute(s.Addr().String() + " => sink")
			payload := make([]byte, size)
			hopSend := func() error { return app.Send(route, payload) }

			rawIn, rawTally := rawSink(b, buffer)
			rawOut, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { rawOut.Close() })
			if err := rawOut.SetWriteBuffer(buffer); err != nil {
				b.Fatal(err)
			}
			to := rawIn.LocalAddr().(*net.UDPAddr).AddrPort()
			rawSend := func() error {
				_, err := rawOut.WriteToUDPAddrPort(payload, to)
				return err
			}

			newTput(hopSink).pump(b, tputWindow, hopSend) // learn the peers, warm up both
			newTput(rawTally).pump(b, tputWindow, rawSend)
			hop, raw := newTput(hopSink), newTput(rawTally)

			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += tputBlock {
				k := min(tputBlock, b.N-done)
				hop.pump(b, k, hopSend)
				b.StopTimer()
				raw.pump(b, k, rawSend)
				b.StartTimer()
			}
			b.StopTimer()
			hop.report(b, "hop-", size)
			raw.report(b, "raw-", size)
			if raw.arrived() > 0 {
				b.ReportMetric(hop.rate()/raw.rate(), "msgs/s-ratio")
			}
		})
	}
}
