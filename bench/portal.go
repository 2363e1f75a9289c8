package bench

import (
	"hash/crc32"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// The portal scenarios: the seed's relay shape made with the hopwire CLI
// as background nodes (n3 registered as a relay at n2, n1 beside them),
// TCP outlets on n3 to a sink and an echo server in this process, and
// TCP inlets on n1 straight to n3 ("two" nodes in the middle) and
// through the relay on n2 ("three"). A client in this process talks to
// an inlet, and, for the baseline, straight to the same server.

// portals is the shape, built once for every portal scenario of a run.
type portals struct {
	sink, echo         string // the servers' addresses
	bulkTwo, bulkThree string // inlets to the sink
	echoTwo, echoThree string // inlets to the echo server
}

// bulkBytes is what one bulk operation moves: a connection's worth, in
// bulkWrite writes.
const (
	bulkBytes = 16 << 20
	bulkWrite = 256 << 10
)

// streamBenchTime is the least a stream's side is measured for
// (Scenario.MinBenchTime). With 25 ms, TCP pipelined and portal bulk
// disagreed by 26-35 % between two consecutive quick runs; 100 ms adds
// about 10 s to a quick run.
const streamBenchTime = 100 * time.Millisecond

func portalScenarios() []Scenario {
	bulk := func(name, via string, inlet func(*portals) string) Scenario {
		return Scenario{
			Name:           name,
			Baseline:       "direct TCP",
			About:          "a client writes 16 MiB in 256 KiB writes to a TCP inlet on n1, " + via + " to an outlet on n3 and on to a sink server, half-closes and checks the sink's CRC-32C of what it read; vs the same client writing straight to the sink; hopwire nodes are hopwire node create processes",
			Unit:           UnitMBPerSec,
			HigherIsBetter: true,
			PayloadBytes:   bulkWrite,
			MinBenchTime:   streamBenchTime,
			Setup: func(e *Env) (Sides, error) {
				p, err := share(e, "portals", e.startPortals)
				if err != nil {
					return Sides{}, err
				}
				return Sides{Hopwire: pushBulk(inlet(p)), Baseline: pushBulk(p.sink)}, nil
			},
		}
	}
	pingPong := func(name, via string, inlet func(*portals) string) Scenario {
		return Scenario{
			Name:         name,
			Baseline:     "direct TCP",
			About:        "64 B written and read back over one connection to a TCP inlet on n1, " + via + " to an outlet on n3 and an echo server; vs the same exchange straight to the echo server",
			Unit:         UnitP50RTT,
			PayloadBytes: 64,
			Setup: func(e *Env) (Sides, error) {
				p, err := share(e, "portals", e.startPortals)
				if err != nil {
					return Sides{}, err
				}
				side := func(addr string) func(*testing.B) {
					return func(b *testing.B) { connPingPong(b, dial(b, addr), 64) }
				}
				return Sides{Hopwire: side(inlet(p)), Baseline: side(p.echo)}, nil
			},
		}
	}
	return []Scenario{
		bulk("portal bulk", "straight", func(p *portals) string { return p.bulkTwo }),
		bulk("portal bulk via relay", "through the relay on n2", func(p *portals) string { return p.bulkThree }),
		pingPong("portal ping-pong", "straight", func(p *portals) string { return p.echoTwo }),
		pingPong("portal ping-pong via relay", "through the relay on n2", func(p *portals) string { return p.echoThree }),
	}
}

// startPortals builds the portal shape.
func (e *Env) startPortals() (*portals, error) {
	p := &portals{}
	var err error
	if p.sink, err = e.serve(sinkConn); err != nil {
		return nil, err
	}
	if p.echo, err = e.serve(func(c net.Conn) { io.Copy(c, c) }); err != nil {
		return nil, err
	}
	h, err := e.newHome()
	if err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"node", "create", "n2"},
		{"node", "create", "n3"},
		{"relay", "create", "n3", "--at", "/node/n2", "--to", "/node/n3"},
		{"node", "create", "n1"},
		{"tcp-outlet", "create", "--at", "n3", "--from", "/service/sink", "--to", p.sink},
		{"tcp-outlet", "create", "--at", "n3", "--from", "/service/echo-out", "--to", p.echo},
	} {
		if _, err := h.run(args...); err != nil {
			return nil, err
		}
	}
	for _, in := range []struct {
		addr *string
		to   string
	}{
		{&p.bulkTwo, "/node/n3/service/sink"},
		{&p.bulkThree, "/node/n2/service/forward_to_n3/service/sink"},
		{&p.echoTwo, "/node/n3/service/echo-out"},
		{&p.echoThree, "/node/n2/service/forward_to_n3/service/echo-out"},
	} {
		if *in.addr, err = h.line("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0", "--to", in.to); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// serve serves each connection to a listener on 127.0.0.1 with handle
// until the run ends; then it closes the listener and every connection
// and waits for the handlers.
func (e *Env) serve(handle func(net.Conn)) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() {
				handle(c)
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			})
		}
	})
	e.onStop(func() error {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
		return nil
	})
	return l.Addr().String(), nil
}

// castagnoli is CRC-32C, which the CPU computes: a check that does not
// slow the transfer it checks.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sinkConn reads c to its end and answers with the CRC-32C of what it
// read, so a transfer is checked end to end.
func sinkConn(c net.Conn) {
	h := crc32.New(castagnoli)
	if _, err := io.Copy(h, c); err != nil {
		return
	}
	c.Write(h.Sum(nil))
}

// bulkBlock is what a bulk client writes, bulkWrite bytes of a pattern.
var bulkBlock = func() []byte {
	p := make([]byte, bulkWrite)
	for i := range p {
		p[i] = byte(i * 7)
	}
	return p
}()

// pushBulk returns a benchmark of b.N connections to addr, each writing
// bulkBytes, half-closing and checking the sink's CRC; reported in MB/s.
func pushBulk(addr string) func(*testing.B) {
	return func(b *testing.B) {
		want := crc32.New(castagnoli)
		for sent := 0; sent < bulkBytes; sent += len(bulkBlock) {
			want.Write(bulkBlock)
		}
		sum := want.Sum(nil)
		push := func() {
			c := dial(b, addr)
			defer c.Close()
			for sent := 0; sent < bulkBytes; sent += len(bulkBlock) {
				if _, err := c.Write(bulkBlock); err != nil {
					fatalf(b, "write to %s: %v", addr, err)
				}
			}
			c.(*net.TCPConn).CloseWrite()
			got, err := io.ReadAll(c)
			if err != nil || string(got) != string(sum) {
				fatalf(b, "%s: the sink's CRC-32C %x, want %x (%v)", addr, got, sum, err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			push()
		}
		b.StopTimer()
		if s := b.Elapsed().Seconds(); s > 0 {
			b.ReportMetric(float64(b.N)*bulkBytes/1e6/s, UnitMBPerSec)
		}
	}
}
