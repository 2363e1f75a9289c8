package portal_test

import (
	"io"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine/portal"
)

// Benchmarks: every figure beside its baseline, a direct loopback
// connection to the same server, in the same run.
//
//	go test ./engine/portal -run '^$' -bench . -benchtime 20x

// sink is a server that reads everything and reports how much.
func sink(b *testing.B) (*server, chan int64) {
	got := make(chan int64, 1)
	srv := newServer(b, func(c *net.TCPConn) {
		c.SetDeadline(time.Time{})
		n, _ := io.Copy(io.Discard, c)
		got <- n
	})
	return srv, got
}

// transfer writes size bytes to addr, half-closes, and waits for the
// sink to have read them all; it returns how long that took.
func transfer(b *testing.B, addr string, size int64, got chan int64) time.Duration {
	buf := make([]byte, 256<<10)
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for left := size; left > 0; {
		k := min(left, int64(len(buf)))
		if _, err := c.Write(buf[:k]); err != nil {
			b.Fatal(err)
		}
		left -= k
	}
	c.(*net.TCPConn).CloseWrite()
	if n := <-got; n != size {
		b.Fatalf("sink read %d bytes, want %d", n, size)
	}
	return time.Since(start)
}

// BenchmarkBulk: one stream of 64 MiB a round through inlet → outlet
// (two nodes in one process over loopback TCP) against the same stream
// straight to the sink.
func BenchmarkBulk(b *testing.B) {
	size := bulkSize(64 << 20)
	srv, got := sink(b)
	p := newPair(b, srv.addr(), pairConfig{})
	var tp, td time.Duration
	b.ResetTimer()
	for b.Loop() {
		tp += transfer(b, p.inlet.Addr(), size, got)
		td += transfer(b, srv.addr(), size, got)
	}
	mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
	b.ReportMetric(mbps(tp), "portal-MB/s")
	b.ReportMetric(mbps(td), "direct-MB/s")
	b.ReportMetric(mbps(tp)/mbps(td), "ratio")
}

// BenchmarkChunk: the bulk stream through the portal with chunks of
// 48 KiB, 63 KiB (DefaultChunk: a chunk and its header fit one 64 KiB
// pooled buffer and one 64 KiB read of the TCP transport), 64 KiB and
// 128 KiB.
func BenchmarkChunk(b *testing.B) {
	size := bulkSize(64 << 20)
	for _, chunk := range []int{48 << 10, portal.DefaultChunk, 64 << 10, 128 << 10} {
		b.Run(strconv.Itoa(chunk>>10)+"KiB", func(b *testing.B) {
			srv, got := sink(b)
			p := newPair(b, srv.addr(), pairConfig{
				inlet:  portal.InletConfig{Chunk: chunk},
				outlet: portal.OutletConfig{Chunk: chunk},
			})
			var tp time.Duration
			for b.Loop() {
				tp += transfer(b, p.inlet.Addr(), size, got)
			}
			b.ReportMetric(float64(size)*float64(b.N)/tp.Seconds()/1e6, "MB/s")
		})
	}
}

// BenchmarkPingPong: 64 B there and back on one connection, through the
// portal and straight to the echo server, alternately; p50 and p99 of
// each.
func BenchmarkPingPong(b *testing.B) {
	srv := newServer(b, func(c *net.TCPConn) {
		c.SetDeadline(time.Time{})
		io.Copy(c, c)
	})
	p := newPair(b, srv.addr(), pairConfig{})
	dial := func(addr string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	pc, dc := dial(p.inlet.Addr()), dial(srv.addr())
	defer pc.Close()
	defer dc.Close()
	msg, back := make([]byte, 64), make([]byte, 64)
	rtt := func(c net.Conn) time.Duration {
		start := time.Now()
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, back); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	rtt(pc) // the session opens
	var ps, ds []time.Duration
	for b.Loop() {
		ps = append(ps, rtt(pc))
		ds = append(ds, rtt(dc))
	}
	slices.Sort(ps)
	slices.Sort(ds)
	q := func(s []time.Duration, f float64) float64 { return float64(s[int(f*float64(len(s)-1))].Nanoseconds()) }
	b.ReportMetric(q(ps, 0.5), "portal-p50-ns")
	b.ReportMetric(q(ps, 0.99), "portal-p99-ns")
	b.ReportMetric(q(ds, 0.5), "direct-p50-ns")
	b.ReportMetric(q(ds, 0.99), "direct-p99-ns")
	b.ReportMetric(q(ps, 0.5)/q(ds, 0.5), "p50-ratio")
	b.ReportMetric(0, "ns/op")
}

// bulkSize is n, or 1 MiB with -short: make bench-smoke checks that the
// benchmarks run, in seconds, not what they measure.
func bulkSize(n int64) int64 {
	if testing.Short() {
		return 1 << 20
	}
	return n
}
