package tcp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/internal/nodetest"
	"github.com/hopwire/hopwire/wire"
)

// Benchmarks put every figure beside its baseline measured in the same
// run: raw Go net.Conn TCP on the same loopback. Machines are shared and
// noisy; compare the ratios, not the absolute times.

func benchNode(b *testing.B, name string, mailbox int) *testNode {
	b.Helper()
	return benchNodeCompress(b, name, mailbox, wire.Plain)
}

// benchNodeCompress is benchNode with Config.Compress.
func benchNodeCompress(b *testing.B, name string, mailbox int, codec wire.Codec) *testNode {
	b.Helper()
	return benchNodeWith(b, name, mailbox, Config{EventLoops: 1, QueueLen: 4096, QueueBytes: 16 << 20, Compress: codec})
}

// benchNodeWith is benchNode with a transport Config of the caller's.
func benchNodeWith(b *testing.B, name string, mailbox int, cfg Config) *testNode {
	b.Helper()
	n, err := engine.NewNode(engine.Config{Name: name, Loops: 1, MailboxSize: mailbox})
	if err != nil {
		b.Fatal(err)
	}
	tr, err := New(n, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close() })
	return &testNode{n, tr}
}

// rawPingPong is the baseline: a length-prefixed payload bounced between
// two goroutines over a loopback TCP connection.
type rawPingPong struct {
	c, s net.Conn
	buf  []byte
	hist *hdrhistogram.Histogram
}

// rawConnPair returns the two ends of a TCP connection on 127.0.0.1,
// closed when b ends.
func rawConnPair(b *testing.B) (client, server net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		c.Close()
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

func newRawPingPong(b *testing.B, payload int) *rawPingPong {
	c, s := rawConnPair(b)
	r := &rawPingPong{c: c, s: s, buf: make([]byte, 4+payload), hist: nodetest.NewHist()}
	binary.BigEndian.PutUint32(r.buf, uint32(payload))
	go func() { // the echo side
		// Buffered, as a framed Go server would read: the header and the
		// body come in with one read, not two.
		rd := bufio.NewReaderSize(s, 64<<10)
		buf := make([]byte, 4+payload)
		for {
			if _, err := io.ReadFull(rd, buf[:4]); err != nil {
				return
			}
			n := binary.BigEndian.Uint32(buf)
			if _, err := io.ReadFull(rd, buf[4:4+n]); err != nil {
				return
			}
			if _, err := s.Write(buf[:4+n]); err != nil {
				return
			}
		}
	}()
	return r
}

func (r *rawPingPong) rounds(b *testing.B, k int) {
	for i := 0; i < k; i++ {
		t0 := time.Now()
		if _, err := r.c.Write(r.buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(r.c, r.buf); err != nil {
			b.Fatal(err)
		}
		r.hist.RecordValue(int64(time.Since(t0)))
	}
}

// BenchmarkTCPHopRoundTrip is one TCP hop each way: a pinger worker on
// one node, an echoer on another, request and reply over one connection,
// against a raw net.Conn ping-pong of the same payload. The two run in
// alternating blocks so that drift in the machine's load hits both.
// Reported: p50/p99 round trip of each and their ratio; allocs/op is per
// round trip, both nodes included.
func BenchmarkTCPHopRoundTrip(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) {
			server := benchNode(b, "server", 0)
			server.start(b, engine.Echo{}, "echoer")
			l := server.listen(b, "echoer")
			client := benchNode(b, "client", 0)
			const block = 200
			p := nodetest.NewPinger(wire.MustParseRoute(l.Addr().String() + " => echoer"))
			client.start(b, p, "pinger")
			app := client.app(b, "bench")
			payload := make([]byte, size)
			kick := func(k int) {
				p.Rounds = k
				if err := app.Send(wire.MustParseRoute("pinger"), payload); err != nil {
					b.Fatal(err)
				}
				<-p.Done
			}
			raw := newRawPingPong(b, size)
			kick(block) // connect and warm up both
			raw.rounds(b, block)
			p.Hist.Reset()
			raw.hist.Reset()

			b.ReportAllocs()
			b.ResetTimer()
			var hopTime time.Duration
			for done := 0; done < b.N; done += block {
				k := min(block, b.N-done)
				t0 := time.Now()
				kick(k)
				hopTime += time.Since(t0)
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

// counter counts what reaches it.
type counter struct{ n atomic.Int64 }

func (c *counter) HandleMessage(*engine.Context, *wire.Message) error {
	c.n.Add(1)
	return nil
}

// source sends count messages along route, a burst per kick; after each
// burst it kicks itself again, so other work on its loop gets a turn. A
// full outbound queue ends the burst early: the source backs off.
type source struct {
	route   wire.Route
	payload []byte
	count   int
	full    int
}

func (s *source) HandleMessage(ctx *engine.Context, kick *wire.Message) error {
	for i := 0; i < 256 && s.count > 0; i++ {
		if err := ctx.Send(s.route, s.payload); err != nil {
			if errors.Is(err, ErrQueueFull) {
				s.full++
				for i := 0; i < 8; i++ {
					runtime.Gosched() // let the writer and the receiver run
				}
				break
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

var pipelineSizes = []int{64, 1024, 16 << 10}

// BenchmarkTCPPipelined is one-way throughput over one connection: a
// source worker streams b.N messages to a counting worker on another
// node. Reported: msgs/s and MB/s (payload bytes), and allocs per message
// for both nodes together. BenchmarkRawPipelined is its baseline.
func BenchmarkTCPPipelined(b *testing.B) {
	for _, size := range pipelineSizes {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) { pipelined(b, size) })
	}
}

// BenchmarkTCPLargeFrames is BenchmarkTCPPipelined with frames many
// times gnet's read buffer: each is read in pieces and its message grows
// as they arrive (see reader), through the pool's large size classes.
func BenchmarkTCPLargeFrames(b *testing.B) {
	for _, size := range []int{1 << 20, 4 << 20} {
		b.Run(fmt.Sprintf("payload=%dMiB", size>>20), func(b *testing.B) { pipelined(b, size) })
	}
}

func pipelined(b *testing.B, size int) { pipelinedWith(b, make([]byte, size), wire.Plain) }

// BenchmarkTCPCompression is BenchmarkTCPPipelined with both nodes
// offering a codec (off is the baseline, in the same run): text
// compresses (JSON-like), random does not (tried now and then, sent
// plain), 64 B is under the threshold (never tried). MB/s is of
// payload before compression; ratio is the bytes on the wire over it.
func BenchmarkTCPCompression(b *testing.B) {
	for _, in := range []struct {
		name string
		data []byte
	}{{"text-64B", jsonish(64)}, {"text-64K", jsonish(64 << 10)}, {"random-64K", randomBytes(64 << 10)}} {
		for _, c := range []wire.Codec{wire.Plain, wire.S2, wire.Zstd} {
			b.Run(in.name+"/"+c.String(), func(b *testing.B) { pipelinedWith(b, in.data, c) })
		}
	}
}

// BenchmarkTCPQueueBytes is BenchmarkTCPPipelined's 16 KiB stream with
// the client's outbound queue bounded at 256 KiB, 1 MiB, 4 MiB (the
// default) and 16 MiB: what a smaller queue costs a stream.
func BenchmarkTCPQueueBytes(b *testing.B) {
	for _, q := range []int{256 << 10, 1 << 20, DefaultQueueBytes, 16 << 20} {
		b.Run(fmt.Sprintf("%dKiB", q>>10), func(b *testing.B) {
			pipelinedCfg(b, make([]byte, 16<<10), Config{EventLoops: 1, QueueLen: 4096, QueueBytes: 16 << 20},
				Config{EventLoops: 1, QueueLen: 4096, QueueBytes: q})
		})
	}
}

func pipelinedWith(b *testing.B, payload []byte, codec wire.Codec) {
	cfg := Config{EventLoops: 1, QueueLen: 4096, QueueBytes: 16 << 20, Compress: codec}
	pipelinedCfg(b, payload, cfg, cfg)
}

func pipelinedCfg(b *testing.B, payload []byte, serverCfg, clientCfg Config) {
	size := len(payload)
	codec := clientCfg.Compress
	server := benchNodeWith(b, "server", 1<<16, serverCfg)
	sink := &counter{}
	server.start(b, sink, "sink")
	l := server.listen(b, "sink")
	client := benchNodeWith(b, "client", 0, clientCfg)
	app := client.app(b, "bench")
	route := wire.MustParseRoute(l.Addr().String() + " => sink")
	// Open the connection and warm the pools.
	warm := min(1000, 64<<20/size)
	for i := 0; i < warm; i++ {
		for app.Send(route, payload) != nil {
			time.Sleep(time.Microsecond)
		}
	}
	waitCount(b, server, &sink.n, int64(warm))
	sink.n.Store(0)
	before := server.tr.Stats().Undeliverable

	src := &source{route: route, payload: payload, count: b.N}
	if err := client.StartWorker(src, wire.LocalAddr("source")); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	if err := app.Send(wire.MustParseRoute("source"), nil); err != nil {
		b.Fatal(err)
	}
	lost := waitCount(b, server, &sink.n, int64(b.N)) - before
	b.StopTimer()
	if codec != wire.Plain {
		st := client.tr.Stats()
		b.ReportMetric(float64(st.BytesOut)/float64(st.BytesOut+st.SavedOut), "ratio")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(src.full)/float64(b.N), "full/msg")
	// What the two nodes hold once the stream is over (their pools
	// included) after a collection.
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
}

// waitCount waits until n messages arrived or were dropped at the
// receiving node, and returns the node's drop count.
func waitCount(b *testing.B, server *testNode, got *atomic.Int64, n int64) uint64 {
	deadline := time.Now().Add(time.Minute)
	for {
		lost := server.tr.Stats().Undeliverable
		if got.Load()+int64(lost) >= n {
			return lost
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d messages arrived", got.Load(), n)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// BenchmarkRawPipelined is the baseline of BenchmarkTCPPipelined: the
// same payloads, length-prefixed, streamed one way over a raw net.Conn
// through bufio (64 KiB buffers, the size of gnet's read buffer) on both
// sides.
func BenchmarkRawPipelined(b *testing.B) {
	for _, size := range pipelineSizes {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) {
			c, s := rawConnPair(b)
			done := make(chan int)
			n := b.N
			go func() {
				r := bufio.NewReaderSize(s, 64<<10)
				buf := make([]byte, 4+size)
				got := 0
				for ; got < n; got++ {
					if _, err := io.ReadFull(r, buf[:4]); err != nil {
						break
					}
					if _, err := io.ReadFull(r, buf[4:4+binary.BigEndian.Uint32(buf)]); err != nil {
						break
					}
				}
				done <- got
			}()
			w := bufio.NewWriterSize(c, 64<<10)
			frame := make([]byte, 4+size)
			binary.BigEndian.PutUint32(frame, uint32(size))
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < n; i++ {
				if _, err := w.Write(frame); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			if got := <-done; got != n {
				b.Fatalf("%d of %d frames arrived", got, n)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkTCPCompressionLatency is BenchmarkTCPHopRoundTrip's pinger
// over connections offering off, s2 and zstd side by side, in
// alternating blocks: 64 B (under the threshold: never tried) and 16 KiB
// of text (compressed both ways). Reported: each codec's p50 round trip
// and its ratio to off's.
func BenchmarkTCPCompressionLatency(b *testing.B) {
	for _, in := range []struct {
		name string
		data []byte
	}{{"text-64B", jsonish(64)}, {"text-16K", jsonish(16 << 10)}} {
		b.Run(in.name, func(b *testing.B) {
			codecs := []wire.Codec{wire.Plain, wire.S2, wire.Zstd}
			pingers := make([]*nodetest.Pinger, len(codecs))
			apps := make([]*engine.App, len(codecs))
			for i, c := range codecs {
				server := benchNodeCompress(b, "server", 0, c)
				server.start(b, engine.Echo{}, "echoer")
				l := server.listen(b, "echoer")
				client := benchNodeCompress(b, "client", 0, c)
				pingers[i] = nodetest.NewPinger(wire.MustParseRoute(l.Addr().String() + " => echoer"))
				client.start(b, pingers[i], "pinger")
				apps[i] = client.app(b, "bench")
			}
			kick := func(i, k int) {
				pingers[i].Rounds = k
				if err := apps[i].Send(wire.MustParseRoute("pinger"), in.data); err != nil {
					b.Fatal(err)
				}
				<-pingers[i].Done
			}
			const block = 100
			for i := range codecs {
				kick(i, block) // connect and warm up
				pingers[i].Hist.Reset()
			}
			b.ResetTimer()
			for done := 0; done < b.N; done += block {
				for i := range codecs {
					kick(i, min(block, b.N-done))
				}
			}
			b.StopTimer()
			off := float64(pingers[0].Hist.ValueAtQuantile(50))
			for i, c := range codecs {
				p50 := float64(pingers[i].Hist.ValueAtQuantile(50))
				b.ReportMetric(p50/1e3, c.String()+"-p50-µs")
				if i > 0 {
					b.ReportMetric(p50/off, c.String()+"-p50-ratio")
				}
			}
		})
	}
}
