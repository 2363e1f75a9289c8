package portal_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/engine/portal"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/wire"
)

// linkRate is the slow link's: 100 Mbit/s each way, a VPN or a site
// link.
const linkRate = 100e6 / 8

// shaper is an in-process TCP proxy that carries each direction at
// linkRate at most: the slow link between two nodes on loopback, on any
// machine (no network namespace or tc needed).
func shaper(b *testing.B, target string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			b.Cleanup(func() { in.Close(); out.Close() })
			go shape(out, in)
			go shape(in, out)
		}
	}()
	return l.Addr().String()
}

// shape copies src to dst no faster than linkRate, in 16 KiB steps. A
// link idle for a while saves up no more than burst of sending time.
func shape(dst, src net.Conn) {
	const burst = 10 * time.Millisecond
	buf := make([]byte, 16<<10)
	start, sent := time.Now(), 0
	for {
		k, err := src.Read(buf)
		if k > 0 {
			if now := time.Now(); now.Sub(start.Add(rateTime(sent))) > burst {
				start, sent = now, 0 // idle: the schedule starts again
			}
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
			sent += k
			if d := time.Until(start.Add(rateTime(sent))); d > 0 {
				time.Sleep(d)
			}
		}
		if err != nil {
			dst.(*net.TCPConn).CloseWrite()
			return
		}
	}
}

// rateTime is how long n bytes take at linkRate.
func rateTime(n int) time.Duration {
	return time.Duration(float64(n) / linkRate * float64(time.Second))
}

// BenchmarkSlowLink: a bulk transfer of JSON-like text through a portal
// whose two nodes are joined by a 100 Mbit/s link (shaper), plain
// beside compressed by the TCP connection (both nodes tcp.Config.Compress
// S2) and by the portal itself (InletConfig.Compress S2, zstd), in the
// same run. MB/s is of the text, what the client sent; x-plain is each
// against plain. The goal: 3× plain or better.
//
//	go test ./engine/portal -run '^$' -bench SlowLink -benchtime 3x
func BenchmarkSlowLink(b *testing.B) {
	size := int(bulkSize(16 << 20))
	data := text(9, size)
	srv, got := sink(b)
	type variant struct {
		name  string
		conn  wire.Codec
		inlet wire.Codec
		addr  string
		took  time.Duration
	}
	vs := []*variant{{name: "plain"}, {name: "conn-s2", conn: wire.S2}, {name: "portal-s2", inlet: wire.S2}, {name: "portal-zstd", inlet: wire.Zstd}}
	for _, v := range vs {
		outNode, inNode := slowNode(b, "out", v.conn), slowNode(b, "in", v.conn)
		o, err := portal.NewOutlet(outNode, wire.LocalAddr("outlet"), portal.OutletConfig{Target: srv.addr()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { o.Close() })
		l := listen(b, outNode, "outlet")
		link, err := wire.NewAddress(wire.TCP, shaper(b, l.Addr().Value()))
		if err != nil {
			b.Fatal(err)
		}
		in, err := portal.NewInlet(inNode, portal.InletConfig{Listen: "127.0.0.1:0", Route: wire.Route{link, wire.LocalAddr("outlet")}, Compress: v.inlet})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { in.Close() })
		v.addr = in.Addr()
	}
	b.ResetTimer()
	for b.Loop() {
		for _, v := range vs {
			v.took += send(b, v.addr, data, got)
		}
	}
	mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
	for _, v := range vs {
		b.ReportMetric(mbps(v.took), v.name+"-MB/s")
		if v.name != "plain" {
			b.ReportMetric(mbps(v.took)/mbps(vs[0].took), v.name+"-x-plain")
		}
	}
}

// slowNode is a node with a TCP transport offering codec.
func slowNode(b *testing.B, name string, codec wire.Codec) *engine.Node {
	n, err := engine.NewNode(engine.Config{Name: name, Loops: 2})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close() })
	if _, err := tcp.New(n, tcp.Config{Compress: codec}); err != nil {
		b.Fatal(err)
	}
	return n
}

// send writes data to addr, half-closes, and waits for the sink to have
// read it all; it returns how long that took.
func send(b *testing.B, addr string, data []byte, got chan int64) time.Duration {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(data); err != nil {
		b.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, c)
	if n := <-got; n != int64(len(data)) {
		b.Fatalf("sink read %d bytes, want %d", n, len(data))
	}
	return time.Since(start)
}
