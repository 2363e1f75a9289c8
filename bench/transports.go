package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/transports/udp"
	"github.com/hopwire/hopwire/wire"
)

// The transport scenarios: two nodes in this process talking over real
// sockets on 127.0.0.1, beside plain Go sockets doing the same in the same
// run. A node per side, so every message crosses the kernel's loopback.

// netWarmup is how many round trips (or messages) open the connection and
// fill the pools before the timed part.
const netWarmup = 200

// netNode starts a node whose transports are closed with it when b's run
// ends.
func netNode(b *testing.B, name string) *engine.Node {
	n, err := engine.NewNode(engine.Config{Name: name, Loops: 1})
	if err != nil {
		fatalf(b, "new node: %v", err)
	}
	b.Cleanup(func() { n.Close() })
	return n
}

// tcpServer starts a node with the worker w at addr, reachable through a
// TCP listener on 127.0.0.1, and returns the listener's address.
func tcpServer(b *testing.B, w engine.Worker, addr string) string {
	n := netNode(b, "server")
	tr, err := tcp.New(n, tcp.Config{EventLoops: 1})
	if err != nil {
		fatalf(b, "tcp: %v", err)
	}
	startOn(b, n, 0, w, addr)
	l, err := tr.Listen("127.0.0.1:0")
	if err != nil {
		fatalf(b, "listen: %v", err)
	}
	if err := n.Allow(l.Flow(), wire.LocalAddr(addr)); err != nil {
		fatalf(b, "allow: %v", err)
	}
	return l.Addr().Value()
}

// netPingPong runs a pinger on client along route: a warm-up, then b.N
// timed round trips, reported as their median.
func netPingPong(b *testing.B, client *engine.Node, route wire.Route, payload int) {
	app := newApp(b, client)
	data := make([]byte, payload)
	t := time.NewTimer(patience(netWarmup + b.N))
	defer t.Stop()
	hist := rttHist(b)
	run := func(addr string, rounds int) {
		p := &pinger{route: route, rounds: rounds, done: make(chan struct{}), hist: hist}
		startOn(b, client, 0, p, addr)
		if err := app.Send(localRoute(b, addr), data); err != nil {
			fatalf(b, "kick: %v", err)
		}
		wait(b, client, p.done, t, "ping-pong over "+route.String())
	}
	run("warmup", netWarmup)
	hist.Reset()

	b.ReportAllocs()
	b.ResetTimer()
	run("pinger", b.N)
	b.StopTimer()
	reportP50(b, hist)
}

// tcpHop returns a benchmark of b.N request/reply round trips of a
// payload-byte message from a pinger on one node to engine.Echo on
// another, over one TCP connection; reported as the median round trip.
func tcpHop(payload int) func(*testing.B) {
	return func(b *testing.B) {
		addr := tcpServer(b, engine.Echo{}, "echo")
		client := netNode(b, "client")
		if _, err := tcp.New(client, tcp.Config{EventLoops: 1}); err != nil {
			fatalf(b, "tcp: %v", err)
		}
		netPingPong(b, client, mustRoute(b, "1#"+addr+" => echo"), payload)
	}
}

// rawTCPPingPong is tcpHop's baseline: b.N round trips of the payload
// between two net.Conn on 127.0.0.1, the far one echoing from a goroutine.
func rawTCPPingPong(payload int) func(*testing.B) {
	return func(b *testing.B) {
		c, s := tcpConnPair(b)
		go func() {
			buf := make([]byte, payload)
			for {
				if _, err := io.ReadFull(s, buf); err != nil {
					return
				}
				if _, err := s.Write(buf); err != nil {
					return
				}
			}
		}()
		connPingPong(b, c, payload)
	}
}

// connPingPong runs b.N timed round trips of a payload-byte write and
// the read of as many bytes back over c, after a warm-up, and reports
// their median.
func connPingPong(b *testing.B, c net.Conn, payload int) {
	buf := make([]byte, payload)
	hist := rttHist(b)
	round := func() {
		t0 := time.Now()
		if _, err := c.Write(buf); err != nil {
			fatalf(b, "write: %v", err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			fatalf(b, "read: %v", err)
		}
		_ = hist.RecordValue(int64(time.Since(t0)))
	}
	rawRounds(b, hist, round)
}

// rawRounds runs a raw baseline's warm-up and b.N timed round trips and
// reports their median.
func rawRounds(b *testing.B, hist *hdrhistogram.Histogram, round func()) {
	for i := 0; i < netWarmup; i++ {
		round()
	}
	hist.Reset()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		round()
	}
	b.StopTimer()
	reportP50(b, hist)
}

// tcpConnPair returns the two ends of a TCP connection on 127.0.0.1,
// closed when b's run ends.
func tcpConnPair(b *testing.B) (client, server net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf(b, "listen: %v", err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fatalf(b, "dial: %v", err)
	}
	s, err := ln.Accept()
	if err != nil {
		c.Close()
		fatalf(b, "accept: %v", err)
	}
	b.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// counter counts what reaches it; the benchmark goroutine reads it.
type counter struct{ n atomic.Int64 }

func (c *counter) HandleMessage(*engine.Context, *wire.Message) error {
	c.n.Add(1)
	return nil
}

// streamer sends count messages along route, a burst per kick, and kicks
// itself again after each burst. A full outbound queue (the connection's
// writer is behind) ends a burst early: it yields and tries again on the
// next kick.
type streamer struct {
	route   wire.Route
	payload []byte
	count   int
}

func (s *streamer) HandleMessage(ctx *engine.Context, kick *wire.Message) error {
	for i := 0; i < 256 && s.count > 0; i++ {
		if err := ctx.Send(s.route, s.payload); err != nil {
			if errors.Is(err, tcp.ErrQueueFull) || errors.Is(err, engine.ErrMailboxFull) {
				runtime.Gosched()
				break
			}
			return err
		}
		s.count--
	}
	if s.count > 0 {
		return ctx.Forward(kick)
	}
	return nil
}

// tcpPipelined returns a benchmark of a streamer on one node sending b.N
// payload-byte messages over one TCP connection to a counting worker on
// another node; reported in msgs/s.
func tcpPipelined(payload int) func(*testing.B) {
	return func(b *testing.B) {
		sink := &counter{}
		addr := tcpServer(b, sink, "sink")
		client := netNode(b, "client")
		if _, err := tcp.New(client, tcp.Config{EventLoops: 1}); err != nil {
			fatalf(b, "tcp: %v", err)
		}
		app := newApp(b, client)
		route := mustRoute(b, "1#"+addr+" => sink")
		data := make([]byte, payload)
		deadline := time.Now().Add(patience(netWarmup + b.N))
		stream := func(addr string, count int) {
			sink.n.Store(0)
			startOn(b, client, 0, &streamer{route: route, payload: data, count: count}, addr)
			if err := app.Send(localRoute(b, addr), nil); err != nil {
				fatalf(b, "kick: %v", err)
			}
			for sink.n.Load() < int64(count) {
				if time.Now().After(deadline) {
					fatalf(b, "%d of %d messages arrived; node stats %+v", sink.n.Load(), count, client.Stats())
				}
				time.Sleep(20 * time.Microsecond)
			}
		}
		stream("warmup", netWarmup)

		b.ReportAllocs()
		b.ResetTimer()
		stream("streamer", b.N)
		b.StopTimer()
		reportRate(b)
	}
}

// rawTCPStream is tcpPipelined's baseline: the same payloads,
// length-prefixed, streamed one way over a net.Conn through bufio (64 KiB,
// the size of gnet's read buffer) on both sides; the reader counts them.
func rawTCPStream(payload int) func(*testing.B) {
	return func(b *testing.B) {
		c, s := tcpConnPair(b)
		n := netWarmup + b.N
		got := make(chan int, 1)
		go func() {
			r := bufio.NewReaderSize(s, 64<<10)
			buf := make([]byte, 4+payload)
			k := 0
			for ; k < n; k++ {
				if _, err := io.ReadFull(r, buf[:4]); err != nil {
					break
				}
				if _, err := io.ReadFull(r, buf[4:4+binary.BigEndian.Uint32(buf)]); err != nil {
					break
				}
			}
			got <- k
		}()
		w := bufio.NewWriterSize(c, 64<<10)
		frame := make([]byte, 4+payload)
		binary.BigEndian.PutUint32(frame, uint32(payload))
		send := func(count int) {
			for i := 0; i < count; i++ {
				if _, err := w.Write(frame); err != nil {
					fatalf(b, "write: %v", err)
				}
			}
		}
		send(netWarmup)
		b.ReportAllocs()
		b.ResetTimer()
		send(b.N)
		if err := w.Flush(); err != nil {
			fatalf(b, "flush: %v", err)
		}
		if k := <-got; k != n {
			fatalf(b, "%d of %d frames arrived", k, n)
		}
		b.StopTimer()
		reportRate(b)
	}
}

// udpHop returns a benchmark of b.N request/reply round trips of a
// payload-byte message from a pinger on one node to engine.Echo on
// another, one datagram each way; reported as the median round trip.
// poll is both transports' Config.BusyPoll.
func udpHop(payload int, poll time.Duration) func(*testing.B) {
	return func(b *testing.B) {
		server := netNode(b, "server")
		str, err := udp.New(server, udp.Config{ClientAddr: "127.0.0.1:0", BusyPoll: poll})
		if err != nil {
			fatalf(b, "udp: %v", err)
		}
		startOn(b, server, 0, engine.Echo{}, "echo")
		sock, err := str.Listen("127.0.0.1:0")
		if err != nil {
			fatalf(b, "bind: %v", err)
		}
		if err := server.Allow(sock.Flow(), wire.LocalAddr("echo")); err != nil {
			fatalf(b, "allow: %v", err)
		}
		client := netNode(b, "client")
		if _, err := udp.New(client, udp.Config{ClientAddr: "127.0.0.1:0", BusyPoll: poll}); err != nil {
			fatalf(b, "udp: %v", err)
		}
		netPingPong(b, client, mustRoute(b, sock.Addr().String()+" => echo"), payload)
	}
}

// rawUDPPingPong is udpHop's baseline: b.N round trips of the payload
// between two net.UDPConn on 127.0.0.1, the far one echoing from a
// goroutine.
func rawUDPPingPong(payload int) func(*testing.B) {
	return func(b *testing.B) {
		lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
		s, err := net.ListenUDP("udp", lo)
		if err != nil {
			fatalf(b, "listen: %v", err)
		}
		c, err := net.DialUDP("udp", nil, s.LocalAddr().(*net.UDPAddr))
		if err != nil {
			s.Close()
			fatalf(b, "dial: %v", err)
		}
		b.Cleanup(func() { c.Close(); s.Close() })
		go func() {
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
		buf := make([]byte, payload)
		// Loopback does not drop one datagram in flight; a deadline turns
		// a lost one into a failure instead of a hang.
		c.SetReadDeadline(time.Now().Add(patience(netWarmup + b.N)))
		hist := rttHist(b)
		round := func() {
			t0 := time.Now()
			if _, err := c.Write(buf); err != nil {
				fatalf(b, "write: %v", err)
			}
			if _, err := c.Read(buf); err != nil {
				fatalf(b, "read: %v", err)
			}
			_ = hist.RecordValue(int64(time.Since(t0)))
		}
		rawRounds(b, hist, round)
	}
}

func mustRoute(b *testing.B, s string) wire.Route {
	r, err := wire.ParseRoute(s)
	if err != nil {
		fatalf(b, "route %q: %v", s, err)
	}
	return r
}
