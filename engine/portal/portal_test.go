package portal_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/engine/portal"
	"github.com/hopwire/hopwire/wire"
)

// A client that half-closes still reads the whole reply: the outlet
// writes everything the client sent, shuts the target's write side, and
// the target's answer, sent after it saw EOF, comes back whole.
func TestHalfClose(t *testing.T) {
	srv := newServer(t, func(c *net.TCPConn) {
		b, err := io.ReadAll(c) // to the client's EOF
		if err != nil {
			return
		}
		c.Write([]byte(strings.ToUpper(string(b))))
		c.Write([]byte(strings.Repeat("!", 1<<20)))
		c.CloseWrite()
	})
	p := newPair(t, srv.addr(), pairConfig{})
	c := p.dial(t)
	defer c.Close()
	if _, err := c.Write([]byte("hello portal")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := "HELLO PORTAL" + strings.Repeat("!", 1<<20); string(got) != want {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
	eventually(t, "sessions closed", func() bool { return p.inlet.Stats().Open == 0 && p.outlet.Stats().Open == 0 })
	if s := p.inlet.Stats(); s.Sessions != 1 || s.Resets != 0 || s.BytesIn != 12 || s.BytesOut != uint64(len(got)) {
		t.Fatalf("inlet stats %+v", s)
	}
}

// A bulk stream each way at once, checked by hash: 256 MiB (16 MiB under
// -short or -race).
func TestBulk(t *testing.T) {
	size := int64(256 << 20)
	if testing.Short() || raceOn {
		size = 16 << 20
	}
	type result struct {
		n   int64
		sum [32]byte
		err error
	}
	fromClient := make(chan result, 1)
	srv := newServer(t, func(c *net.TCPConn) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			stream(c, 2, size)
			c.CloseWrite()
		}()
		n, sum, err := drain(c)
		fromClient <- result{n, sum, err}
		<-done
	})
	p := newPair(t, srv.addr(), pairConfig{})
	c := p.dial(t)
	defer c.Close()
	sent := make(chan error, 1)
	go func() {
		_, err := stream(c, 1, size)
		c.CloseWrite()
		sent <- err
	}()
	n, sum, err := drain(c)
	if err != nil || n != size || sum != expected(2, size) {
		t.Fatalf("client got %d bytes (want %d), err %v, hash ok %v", n, size, err, sum == expected(2, size))
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	r := <-fromClient
	if r.err != nil || r.n != size || r.sum != expected(1, size) {
		t.Fatalf("server got %d bytes (want %d), err %v, hash ok %v", r.n, size, r.err, r.sum == expected(1, size))
	}
	eventually(t, "sessions closed", func() bool { return p.inlet.Stats().Open == 0 && p.outlet.Stats().Open == 0 })
	if s := p.outlet.Stats(); s.BytesIn != uint64(size) || s.BytesOut != uint64(size) || s.Resets != 0 {
		t.Fatalf("outlet stats %+v", s)
	}
}

// Many concurrent HTTP requests with large bodies through the portal,
// each echoed and checked by hash.
func TestHTTP(t *testing.T) {
	clients, body := 32, 1<<20
	if testing.Short() || raceOn {
		clients, body = 8, 256<<10
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body) // HTTP/1 handlers are not full duplex
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(b)
	}))
	defer hs.Close()
	p := newPair(t, strings.TrimPrefix(hs.URL, "http://"), pairConfig{})
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: wait}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 3 {
				var b strings.Builder
				want, _ := stream(&b, uint64(i*3+j), int64(body))
				resp, err := hc.Post("http://"+p.inlet.Addr()+"/", "application/octet-stream", strings.NewReader(b.String()))
				if err != nil {
					errs <- err
					return
				}
				n, sum, err := drain(resp.Body)
				resp.Body.Close()
				if err != nil || n != int64(body) || sum != want {
					errs <- fmt.Errorf("request %d/%d: %d bytes, err %v, hash ok %v", i, j, n, err, sum == want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.Logf("inlet %+v outlet %+v", p.inlet.Stats(), p.outlet.Stats())
		for _, l := range strings.Split(p.logs.String(), "\n") {
			if strings.Contains(l, "reason") {
				t.Log(l)
				break
			}
		}
	}
	tr.CloseIdleConnections()
	eventually(t, "sessions closed", func() bool { return p.inlet.Stats().Open == 0 && p.outlet.Stats().Open == 0 })
}

// One session whose client never reads stalls only itself: a busy one
// beside it, over the same node connection, completes.
func TestStalledSessionDoesNotStallOthers(t *testing.T) {
	size := int64(64 << 20)
	if testing.Short() || raceOn {
		size = 8 << 20
	}
	srv := newServer(t, func(c *net.TCPConn) {
		stream(c, 7, size) // blocks for the stalled one, until the test ends
		c.CloseWrite()
		io.Copy(io.Discard, c)
	})
	p := newPair(t, srv.addr(), pairConfig{})
	stalled := p.dial(t)
	defer stalled.Close()
	stalled.Write([]byte("x")) // the session opens; its client then reads nothing
	eventually(t, "stalled session open", func() bool { return p.outlet.Stats().Open == 1 })
	eventually(t, "stalled session's window full", func() bool {
		return p.outlet.Stats().BytesIn >= portal.DefaultWindow/2
	})
	busy := p.dial(t)
	defer busy.Close()
	busy.CloseWrite()
	n, sum, err := drain(busy)
	if err != nil || n != size || sum != expected(7, size) {
		t.Fatalf("busy session got %d bytes (want %d), err %v", n, size, err)
	}
	if s := p.inlet.Stats(); s.Resets != 0 {
		t.Fatalf("inlet stats %+v", s)
	}
}

// An unreachable target: the outlet's dial fails, it answers ERR, and
// the inlet closes the client's connection at once (well before its open
// timeout), with the reason logged and counted.
func TestUnreachableTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now
	p := newPair(t, dead, pairConfig{inlet: portal.InletConfig{OpenTimeout: 10 * wait}})
	if err := dialAndRead(p.inlet.Addr()); err == nil || isTimeout(err) {
		t.Fatalf("read: %v, want the connection closed", err)
	}
	eventually(t, "counted", func() bool { return p.inlet.Stats().OpenFailed == 1 && p.outlet.Stats().OpenFailed == 1 })
	eventually(t, "sessions closed", func() bool { return p.inlet.Stats().Open == 0 && p.outlet.Stats().Open == 0 })
	if !p.logs.contains("connection refused") {
		t.Fatalf("no reason logged:\n%s", p.logs)
	}
}

// dialAndRead connects to addr and reads a byte: the error says how the
// connection ended (a reset may come before the connect completes).
func dialAndRead(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	_, err = c.Read(make([]byte, 1))
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// No outlet answers: the inlet gives up after OpenTimeout.
func TestOpenTimeout(t *testing.T) {
	n := newNode(t, "in")
	silent := newNode(t, "silent")
	hole := engine.WorkerFunc(func(*engine.Context, *wire.Message) error { return nil })
	if err := silent.StartWorker(hole, wire.LocalAddr("hole")); err != nil {
		t.Fatal(err)
	}
	l := listen(t, silent, "hole")
	in, err := portal.NewInlet(n, portal.InletConfig{
		Listen: "127.0.0.1:0", Route: wire.Route{l.Addr(), wire.LocalAddr("hole")}, OpenTimeout: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := dialAndRead(in.Addr()); err == nil || isTimeout(err) {
		t.Fatalf("read: %v, want the connection closed", err)
	}
	eventually(t, "counted", func() bool { return in.Stats().OpenFailed == 1 && in.Stats().Open == 0 })
}

// Resets propagate both ways: a client that aborts resets the target's
// connection, and a target that aborts resets the client's.
func TestResetPropagates(t *testing.T) {
	got := make(chan error, 1)
	srv := newServer(t, func(c *net.TCPConn) {
		b := make([]byte, 1)
		c.Read(b)
		if b[0] == 'c' { // the client will abort
			_, err := io.Copy(io.Discard, c)
			got <- err
			return
		}
		c.SetLinger(0) // the target aborts
	})
	p := newPair(t, srv.addr(), pairConfig{})

	c := p.dial(t)
	c.Write([]byte("c"))
	eventually(t, "session open", func() bool { return p.outlet.Stats().Open == 1 })
	c.SetLinger(0)
	c.Close()
	if err := <-got; !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("target read: %v, want ECONNRESET", err)
	}

	c = p.dial(t)
	defer c.Close()
	c.Write([]byte("t"))
	if _, err := io.Copy(io.Discard, c); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("client read: %v, want ECONNRESET", err)
	}
	eventually(t, "sessions closed", func() bool { return p.inlet.Stats().Open == 0 && p.outlet.Stats().Open == 0 })
	if s := p.inlet.Stats(); s.Resets != 2 {
		t.Fatalf("inlet stats %+v", s)
	}
}

// The link between the nodes going down ends the sessions on both sides.
func TestLinkDownEndsSessions(t *testing.T) {
	srv := newServer(t, echo)
	p := newPair(t, srv.addr(), pairConfig{})
	c := p.dial(t)
	defer c.Close()
	c.Write([]byte("x"))
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil { // the session is open end to end
		t.Fatal(err)
	}
	p.outListener.Close() // closes its connections
	if _, err := io.Copy(io.Discard, c); err == nil {
		t.Fatal("client's connection closed cleanly, want a reset")
	}
	eventually(t, "sessions closed", func() bool { return p.inlet.Stats().Open == 0 && p.outlet.Stats().Open == 0 })
	if p.inlet.Stats().LinkDowns != 1 || p.outlet.Stats().LinkDowns != 1 {
		t.Fatalf("inlet %+v outlet %+v", p.inlet.Stats(), p.outlet.Stats())
	}
}

// 1000 sessions at once (100 under -race), each an echo exchange.
func TestManySessions(t *testing.T) {
	sessions := 1000
	if testing.Short() || raceOn {
		sessions = 100
	}
	srv := newServer(t, echo)
	p := newPair(t, srv.addr(), pairConfig{})
	conns := make([]*net.TCPConn, sessions)
	for i := range conns {
		conns[i] = p.dial(t)
		defer conns[i].Close()
		fmt.Fprintf(conns[i], "session %d;", i)
	}
	for i, c := range conns {
		want := fmt.Sprintf("session %d;", i)
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
			t.Fatalf("session %d: %q, %v", i, got, err)
		}
	}
	if s := p.outlet.Stats(); s.Open != uint64(sessions) {
		t.Fatalf("outlet stats %+v", s)
	}
	for _, c := range conns {
		c.CloseWrite()
	}
	for i, c := range conns {
		if n, err := io.Copy(io.Discard, c); n != 0 || err != nil {
			t.Fatalf("session %d: %d more bytes, %v", i, n, err)
		}
	}
	eventually(t, "sessions closed", func() bool { return p.inlet.Stats().Open == 0 && p.outlet.Stats().Open == 0 })
	if s := p.inlet.Stats(); s.Sessions != uint64(sessions) || s.Resets != 0 || s.OpenFailed != 0 {
		t.Fatalf("inlet stats %+v", s)
	}
}

// A route through a hop on a third node: 1#hop-node => hop =>
// 1#outlet-node => outlet. The outlet's messages come back as replies
// along the path the OPEN took.
func TestThroughHop(t *testing.T) {
	srv := newServer(t, func(c *net.TCPConn) {
		b, _ := io.ReadAll(c)
		c.Write([]byte(strings.ToUpper(string(b))))
		c.CloseWrite()
	})
	inNode := newNode(t, "in")
	hopNode := newNode(t, "hop", "1#127.0.0.0/8")
	outNode := newNode(t, "out")
	if err := hopNode.StartWorker(engine.Hop{}, wire.LocalAddr("hop")); err != nil {
		t.Fatal(err)
	}
	hl := listen(t, hopNode, "hop")
	o, err := portal.NewOutlet(outNode, wire.LocalAddr("outlet"), portal.OutletConfig{Target: srv.addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ol := listen(t, outNode, "outlet")
	route := wire.Route{hl.Addr(), wire.LocalAddr("hop"), ol.Addr(), wire.LocalAddr("outlet")}
	in, err := portal.NewInlet(inNode, portal.InletConfig{Listen: "127.0.0.1:0", Route: route})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for i := range 3 {
		c, err := net.Dial("tcp", in.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(wait))
		msg := strings.Repeat(fmt.Sprintf("through the hop %d ", i), 10000)
		c.Write([]byte(msg))
		c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != strings.ToUpper(msg) {
			t.Fatalf("session %d: %d bytes, %v", i, len(got), err)
		}
	}
	eventually(t, "sessions closed", func() bool { return in.Stats().Open == 0 && o.Stats().Open == 0 })
	if s := in.Stats(); s.Sessions != 3 || s.Resets != 0 || s.BadMessages != 0 {
		t.Fatalf("inlet stats %+v", s)
	}
}

// Closing the inlet closes its clients' connections and the outlet's
// sessions; closing the outlet closes its targets' and the inlets'.
func TestCloseEndsSessions(t *testing.T) {
	srv := newServer(t, func(c *net.TCPConn) { io.Copy(io.Discard, c) })
	for _, closeInlet := range []bool{true, false} {
		p := newPair(t, srv.addr(), pairConfig{})
		c := p.dial(t)
		c.Write([]byte("x"))
		eventually(t, "session open", func() bool { return p.outlet.Stats().Open == 1 && p.inlet.Stats().Open == 1 })
		if closeInlet {
			p.inlet.Close()
		} else {
			p.outlet.Close()
		}
		io.Copy(io.Discard, c) // returns: closed
		c.Close()
		eventually(t, "sessions closed", func() bool { return p.inlet.Stats().Open == 0 && p.outlet.Stats().Open == 0 })
	}
}

// A route that ends at no worker: the refusal notice from the far node
// fails the session at once.
func TestOpenRefused(t *testing.T) {
	n := newNode(t, "in")
	l := listen(t, newNode(t, "far"))
	in, err := portal.NewInlet(n, portal.InletConfig{
		Listen: "127.0.0.1:0", Route: wire.Route{l.Addr(), wire.LocalAddr("nobody")}, OpenTimeout: 10 * wait,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := dialAndRead(in.Addr()); err == nil || isTimeout(err) {
		t.Fatalf("read: %v, want the connection closed", err)
	}
	eventually(t, "counted", func() bool { return in.Stats().OpenFailed == 1 && in.Stats().Open == 0 })
}
