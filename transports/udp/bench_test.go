package udp

import (
	"fmt"
	"net"
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
	b.Helper()
	n, err := engine.NewNode(engine.Config{Name: name, Loops: 1})
	if err != nil {
		b.Fatal(err)
	}
	tr, err := New(n, testConfig(Config{SocketBuffer: 1 << 20}))
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

// BenchmarkUDPHopRoundTrip is one UDP hop each way: a pinger worker on
// one node, engine.Echo on another, request and reply as datagrams,
// against a raw net.UDPConn ping-pong of the same payload. The two run in
// alternating blocks so that drift in the machine's load hits both.
// Reported: p50/p99 round trip of each and their ratio; allocs/op is per
// round trip, both nodes included (gnet allocates on each datagram it
// reads). A lost datagram would stall the benchmark: on loopback with
// one message in flight none is lost.
func BenchmarkUDPHopRoundTrip(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) {
			server := benchNode(b, "server")
			server.start(b, engine.Echo{}, "echoer")
			s := server.bind(b, "echoer")
			client := benchNode(b, "client")
			const block = 200
			p := nodetest.NewPinger(wire.MustParseRoute("2#" + s.Addr() + " => echoer"))
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
