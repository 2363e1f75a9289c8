package main

import (
	"hash/crc32"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkPortalBulk is a bulk transfer through TCP portals between
// background nodes (OS processes), beside a direct loopback transfer
// between the same client and server in the same run: client → inlet
// node → outlet node → server ("two" in the middle), and client → inlet
// node → relay node → outlet node → server ("three", the seed's shape);
// and beside chains of as many plain Go TCP relay processes (io.Copy,
// which splices: "relays-two", "relays-three"). Each op moves bulkBytes
// one way; the figure is MB/s.
func BenchmarkPortalBulk(b *testing.B) {
	bulkBytes := 32 << 20
	if testing.Short() {
		bulkBytes = 1 << 20 // make bench-smoke: that it runs, not what it measures
	}
	c := newCLI(b)
	sink := sinkServer(b)
	two, three := portalShape(c, sink)
	r2, r3 := relayChain(b, sink, 2), relayChain(b, sink, 3)
	for _, s := range []struct{ name, addr string }{{"direct", sink}, {"two", two}, {"relays-two", r2}, {"three", three}, {"relays-three", r3}} {
		b.Run(s.name, func(b *testing.B) {
			b.SetBytes(int64(bulkBytes))
			for range b.N {
				push(b, s.addr, bulkBytes)
			}
		})
	}
}

// castagnoli is CRC-32C, which the CPU computes: a check that does not
// slow the transfer it checks (SHA-256 halved the direct figure).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sinkServer reads each connection to its end and answers with the
// CRC-32C of what it read, so a transfer is checked end to end.
func sinkServer(b *testing.B) string {
	return serveTCP(b, func(conn net.Conn) {
		h := crc32.New(castagnoli)
		io.Copy(h, conn)
		conn.Write(h.Sum(nil))
	})
}

var block = func() []byte {
	p := make([]byte, 256<<10)
	for i := range p {
		p[i] = byte(i * 7)
	}
	return p
}()

// push writes n bytes to addr, half-closes, and checks the hash the sink
// sends back.
func push(b *testing.B, addr string, n int) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	h := crc32.New(castagnoli)
	for sent := 0; sent < n; sent += len(block) {
		if _, err := conn.Write(block); err != nil {
			b.Fatal(err)
		}
		h.Write(block)
	}
	conn.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(conn)
	if err != nil || string(got) != string(h.Sum(nil)) {
		b.Fatalf("%s: hash mismatch or error (%v), %d bytes back", addr, err, len(got))
	}
}

// BenchmarkPortalPingPong is 64 B request/response through the same
// portals, beside the same exchange direct to the server; ns/op is one
// round trip.
func BenchmarkPortalPingPong(b *testing.B) {
	c := newCLI(b)
	echoAddr := echoServer(b)
	two, three := portalShape(c, echoAddr)
	r2, r3 := relayChain(b, echoAddr, 2), relayChain(b, echoAddr, 3)
	for _, s := range []struct{ name, addr string }{{"direct", echoAddr}, {"two", two}, {"relays-two", r2}, {"three", three}, {"relays-three", r3}} {
		b.Run(s.name, func(b *testing.B) {
			conn, err := net.Dial("tcp", s.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(2 * time.Minute))
			msg, got := make([]byte, 64), make([]byte, 64)
			b.ResetTimer()
			for range b.N {
				if _, err := conn.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(conn, got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// echoServer copies each connection back to itself.
func echoServer(b *testing.B) string {
	return serveTCP(b, func(conn net.Conn) { io.Copy(conn, conn) })
}

// BenchmarkPortalIdleMemory opens b.N idle portal sessions (1,000 with
// -benchtime 1000x) from an inlet node to an outlet node, both OS
// processes, and reports what each session adds to their resident
// memory together (goal ≤ 16 KiB per idle session).
func BenchmarkPortalIdleMemory(b *testing.B) {
	c := newCLI(b)
	hold := make(chan struct{})
	defer close(hold)
	srv, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	accepted := make(chan struct{}, b.N)
	go func() {
		for {
			conn, err := srv.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			go func() { <-hold; conn.Close() }()
		}
	}()
	c.ok("node", "create", "in")
	c.ok("node", "create", "out")
	c.ok("tcp-outlet", "create", "--at", "out", "--to", srv.Addr().String())
	listen := strings.TrimSpace(c.ok("tcp-inlet", "create", "--at", "in", "--from", "127.0.0.1:0", "--to", "/node/out/service/outlet"))
	rss := func() int64 {
		var sum int64
		for _, pid := range c.pids() {
			sum += vmRSS(b, pid)
		}
		return sum
	}
	before := rss()
	b.ResetTimer()
	conns := make([]net.Conn, 0, b.N)
	for range b.N {
		conn, err := net.Dial("tcp", listen)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, conn)
	}
	for range b.N { // every session reached the server: open on both sides
		select {
		case <-accepted:
		case <-time.After(time.Minute):
			b.Fatal("sessions did not open")
		}
	}
	b.StopTimer()
	after := rss()
	b.ReportMetric(float64(after-before)/float64(b.N)/1024, "KiB/session")
	for _, conn := range conns {
		conn.Close()
	}
}

// vmRSS is a process's resident set in bytes (/proc/PID/status).
func vmRSS(b *testing.B, pid int) int64 {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// relayChain starts n plain TCP relay processes (io.Copy both ways)
// in a chain to target and returns the first one's address.
func relayChain(b *testing.B, target string, n int) string {
	for range n {
		target = startProc(b, "raw-relay", target).addr
	}
	return target
}

// portalShape builds the seed's relay shape with an outlet on n3 to
// target and two inlets on n1: two (to n3 directly: two nodes in the
// middle) and three (through the relay on n2). It returns their addresses.
func portalShape(c *cli, target string) (two, three string) {
	c.seedShape()
	c.ok("tcp-outlet", "create", "--at", "n3", "--to", target)
	inlet := func(to string) string {
		return strings.TrimSpace(c.ok("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0", "--to", to))
	}
	return inlet("/node/n3/service/outlet"), inlet("/node/n2/service/forward_to_n3/service/outlet")
}
