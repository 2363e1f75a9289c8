package tcp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// rawDial connects a plain net.Conn to addr and sends hello as its
// handshake (nil: a good one, offering nothing); it checks the server's.
func rawDial(t *testing.T, addr string, hello []byte) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(wait))
	var v [wire.HelloLen]byte
	if _, err := io.ReadFull(nc, v[:]); err != nil {
		t.Fatalf("server's hello: %v", err)
	}
	if h, err := wire.ParseHello(v[:]); err != nil || h.MaxVersion != wire.Version {
		t.Fatalf("server's hello: %+v %v", h, err)
	}
	if hello == nil {
		hello = goodHello
	}
	if _, err := nc.Write(hello); err != nil {
		t.Fatal(err)
	}
	return nc
}

var goodHello = wire.LocalHello(0).Append(nil)

// frame puts a length prefix in front of an encoded message.
func frame(msg []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(msg)))
	return append(b, msg...)
}

// encoded returns the encoding of a message built by a pool.
func encoded(t *testing.T, onward, ret string, payload string) []byte {
	t.Helper()
	var r wire.Route
	if ret != "" {
		r = wire.MustParseRoute(ret)
	}
	m, err := wire.NewPool(0).Build(wire.MustParseRoute(onward), r, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	return bytes.Clone(m.Bytes())
}

// readMessage reads one frame from a raw connection and decodes it; the
// caller releases the message.
func readMessage(nc net.Conn) (*wire.Message, error) {
	var pre [wire.FramePrefixLen]byte
	if _, err := io.ReadFull(nc, pre[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(pre[:]))
	if _, err := io.ReadFull(nc, b); err != nil {
		return nil, err
	}
	return wire.NewPool(0).Decode(b)
}

// waitClosed reads until the server closes the connection.
func waitClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(wait))
	_, err := io.Copy(io.Discard, nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("server did not close the connection")
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Every kind of bad input closes only the connection it came on, with a
// counter; a good client keeps a ping-pong going meanwhile.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	server := newTestNode(t, "server", Config{MaxFrame: 64 << 10})
	server.start(t, engine.Echo{}, "echoer")
	l := server.listen(t, "echoer")

	client := newTestNode(t, "client", Config{})
	app := client.app(t, "app")
	request(t, app, l.Addr().String()+" => echoer", "warm up")

	stop := make(chan struct{})
	var pings atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		route := wire.MustParseRoute(l.Addr().String() + " => echoer")
		for i := 0; i < 1_000_000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r, err := app.Request(route, []byte("ping"), wait)
			if err != nil {
				t.Errorf("ping %d: %v", i, err)
				return
			}
			if string(r.Payload()) != "ping" {
				t.Errorf("ping %d: reply %q", i, r.Payload())
			}
			r.Release()
			pings.Add(1)
		}
	}()

	longReturn := make([]byte, 0, 4+255*3+8)
	longReturn = append(longReturn, 0, wire.DefaultHops, 1, 255)
	for i := 0; i < 255; i++ {
		longReturn = append(longReturn, 0, 1, 'a')
	}
	longReturn = append(longReturn, 0, 6)
	longReturn = append(longReturn, "echoer"...)

	newer := wire.Hello{MinVersion: wire.Version + 1, MaxVersion: wire.Version + 1}.Append(nil)
	cases := []struct {
		name  string
		hello []byte // nil: send the bytes without a handshake
		send  []byte // after the handshake
		stat  func(Stats) uint64
	}{
		{"garbage", nil, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), func(s Stats) uint64 { return s.BadVersion }},
		{"first protocol's version byte", []byte{1}, nil, func(s Stats) uint64 { return s.BadVersion }},
		{"no common version", newer, nil, func(s Stats) uint64 { return s.BadVersion }},
		{"length over max frame", goodHello, binary.BigEndian.AppendUint32(nil, 64<<10+1), func(s Stats) uint64 { return s.BadFrame }},
		{"length under a header", goodHello, binary.BigEndian.AppendUint32(nil, 3), func(s Stats) uint64 { return s.BadFrame }},
		{"garbage after handshake", goodHello, frame([]byte{0, 9, 3, 0, 0, 0, 'x'}), func(s Stats) uint64 { return s.BadFrame }},
		{"unknown flags", goodHello, frame([]byte{0x80, 9, 1, 0, 0, 1, 'x'}), func(s Stats) uint64 { return s.BadFrame }},
		{"flags not negotiated", goodHello, frame([]byte{byte(wire.FlagCompressed), 9, 1, 0, 0, 1, 'x'}), func(s Stats) uint64 { return s.BadFrame }},
		{"empty onward route", goodHello, frame([]byte{0, 9, 0, 0, 'h', 'i'}), func(s Stats) uint64 { return s.BadRoute }},
		{"return route full", goodHello, frame(longReturn), func(s Stats) uint64 { return s.BadRoute }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.stat(server.tr.Stats())
			var nc net.Conn
			if tc.hello == nil {
				var err error
				if nc, err = net.DialTimeout("tcp", l.Addr().Value(), wait); err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
			} else {
				nc = rawDial(t, l.Addr().Value(), tc.hello)
			}
			if tc.send != nil {
				if _, err := nc.Write(tc.send); err != nil {
					t.Fatal(err)
				}
			}
			waitClosed(t, nc)
			eventually(t, "the counter", func() bool { return tc.stat(server.tr.Stats()) == before+1 })
		})
	}

	t.Run("truncated frame then close", func(t *testing.T) {
		before := server.tr.Stats().Truncated
		nc := rawDial(t, l.Addr().Value(), nil)
		f := frame(encoded(t, "echoer", "x", "a payload that will not all arrive"))
		if _, err := nc.Write(f[:len(f)-5]); err != nil {
			t.Fatal(err)
		}
		nc.Close()
		eventually(t, "Truncated", func() bool { return server.tr.Stats().Truncated == before+1 })
	})

	t.Run("good frames on a raw connection", func(t *testing.T) {
		// Two frames in one write and one split in three: all answered.
		nc := rawDial(t, l.Addr().Value(), nil)
		f := frame(encoded(t, "echoer", "me", "one"))
		g := frame(encoded(t, "echoer", "me", "two"))
		h := frame(encoded(t, "echoer", "me", "three"))
		nc.Write(append(f, g...))
		nc.Write(h[:2])
		time.Sleep(time.Millisecond)
		nc.Write(h[2:9])
		time.Sleep(time.Millisecond)
		nc.Write(h[9:])
		for _, want := range []string{"one", "two", "three"} {
			m, err := readMessage(nc)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Payload()) != want || m.Onward().String() != "0#me" {
				t.Fatalf("reply %q onward %v, want %q to 0#me", m.Payload(), m.Onward(), want)
			}
			m.Release()
		}
	})

	close(stop)
	wg.Wait()
	if pings.Load() == 0 {
		t.Fatal("no ping went through while the bad clients were served")
	}
	s := server.tr.Stats()
	if s.Accepted != uint64(len(cases))+3 {
		t.Fatalf("server stats %+v", s)
	}
	if c := client.tr.Stats(); c.Dialed != 1 || c.Open != 1 {
		t.Fatalf("the good client's connection was disturbed: %+v", c)
	}
	t.Logf("%d pings during the bad input; server stats %+v", pings.Load(), s)
}

// When a peer disconnects, the connection worker stops, sends to it fail
// with a clear error, and a 1#host:port route dials again.
func TestPeerDisconnectAndReconnect(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echoer")
	l := server.listen(t, "echoer")

	client := newTestNode(t, "client", Config{})
	app := client.app(t, "app")
	route := l.Addr().String() + " => echoer"
	_, ret := request(t, app, route, "before")
	connWorker := ret[0] // the client's connection worker

	// The server drops the connection.
	for _, c := range server.tr.byID.load() {
		c.shutdown(closeLocal, nil)
	}
	eventually(t, "the client to see the close", func() bool { return client.tr.Stats().Open == 0 })

	err := app.Send(wire.Route{connWorker, wire.MustParseAddress("echoer")}, []byte("lost"))
	if !errors.Is(err, engine.ErrUnknownWorker) {
		t.Fatalf("send to the closed connection's worker: %v", err)
	}
	viaID, _ := wire.NewAddress(wire.TCP, connWorker.Value())
	err = app.Send(wire.Route{viaID, wire.MustParseAddress("echoer")}, []byte("lost"))
	if !errors.Is(err, ErrNoConnection) {
		t.Fatalf("send to the closed connection's id: %v", err)
	}

	got, ret2 := request(t, app, route, "after")
	if got != "after" || ret2[0] == connWorker {
		t.Fatalf("reply %q over %v", got, ret2[0])
	}
	if s := client.tr.Stats(); s.Dialed != 2 || s.Open != 1 {
		t.Fatalf("client stats %+v", s)
	}

	// The other way round: the client goes away, the server's connection
	// closes with it.
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the server to see the close", func() bool { return server.tr.Stats().Open == 0 })
}

// A peer that stops reading fills the kernel's buffers and then the
// connection's bounded queue; sends are then refused, nothing grows, and
// when the peer reads again the connection carries on.
func TestSlowReaderBackpressure(t *testing.T) {
	ln, accepted := stalledPeer(t, 0)

	const queueLen, queueBytes = 64, 256 << 10
	client := newTestNode(t, "client", Config{QueueLen: queueLen, QueueBytes: queueBytes, SendWait: -1})
	app := client.app(t, "app")
	route := wire.MustParseRoute("1#" + ln.Addr().String() + " => sink")
	payload := make([]byte, 16<<10)
	// Open the connection and see a frame go out, so what follows fills
	// the kernel's buffers first and the queue after them.
	if err := app.Send(route, payload); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first frame to be written", func() bool { return client.Pool().Live() == 0 })

	// Send until the queue stays full: refusals go on while nothing
	// drains, and each send either goes in or is refused at once.
	sent, full := sendUntilFull(t, app, route, payload)
	if !full {
		t.Fatalf("%d sends and the queue never stayed full", sent)
	}
	if live := client.Pool().Live(); live > queueLen {
		t.Fatalf("%d messages alive with the queue bounded at %d", live, queueLen)
	}
	if sent*len(payload) <= queueBytes {
		t.Fatalf("only %d sends went in: the kernel's buffers took nothing", sent)
	}
	if s := client.tr.Stats(); s.QueueFull < 20 {
		t.Fatalf("stats %+v", s)
	}
	t.Logf("%d sends (%d KiB) before the kernel's buffers and the queue filled", sent, sent*16)

	// The peer reads again: the queue drains and sends go through.
	nc := <-accepted
	if nc == nil {
		t.Fatal("accept failed")
	}
	defer nc.Close()
	go io.Copy(io.Discard, nc)
	eventually(t, "a send to go through", func() bool {
		return app.Send(route, payload) == nil
	})
	eventually(t, "the queue to drain", func() bool { return client.Pool().Live() == 0 })
}

// A peer that connects and never sends its version byte is disconnected
// after the handshake timeout, on either side.
func TestSilentPeer(t *testing.T) {
	server := newTestNode(t, "server", Config{HandshakeTimeout: 50 * time.Millisecond})
	l := server.listen(t)
	nc, err := net.DialTimeout("tcp", l.Addr().Value(), wait)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	waitClosed(t, nc)
	if s := server.tr.Stats(); s.Silent != 1 || s.Open != 0 {
		t.Fatalf("server stats %+v", s)
	}

	// The dialing side: a listener that accepts and says nothing.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if nc, err := ln.Accept(); err == nil {
			defer nc.Close()
			io.Copy(io.Discard, nc)
		}
	}()
	client := newTestNode(t, "client", Config{HandshakeTimeout: 50 * time.Millisecond})
	if _, err := client.tr.Connect(ln.Addr().String()); !errors.Is(err, ErrHandshake) {
		t.Fatalf("Connect to a silent peer: %v", err)
	}
	// Frames a route queued for it are dropped, not kept.
	app := client.app(t, "app")
	if err := app.Send(wire.MustParseRoute("1#"+ln.Addr().String()+" => x"), []byte("waiting")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the queued frame to be dropped", func() bool { return client.tr.Stats().Dropped == 1 })
}

// Backpressure reaches the origin: a receiver that stops reading fills the
// middle node's queue to it; the middle node's sends wait, so it stops
// reading from the origin; the origin's queue fills and its sends are
// refused. Nothing is lost on the way and memory stays bounded.
func TestBackpressureReachesUpstream(t *testing.T) {
	// One frame read, the warm-up: the middle writes frames only once its
	// handshake is done.
	ln, accepted := stalledPeer(t, 1)

	// The middle node waits long (longer than the test needs) rather
	// than drop: what is measured is that it stops reading.
	const queueLen, queueBytes = 16, 64 << 10
	mn, err := engine.NewNode(engine.Config{Name: "middle", Loops: 2, DeliverWait: wait, AllowDial: dialLoopback})
	if err != nil {
		t.Fatal(err)
	}
	mtr, err := New(mn, Config{QueueLen: queueLen, QueueBytes: queueBytes, SendWait: wait})
	if err != nil {
		t.Fatal(err)
	}
	middle := &testNode{mn, mtr}
	middle.start(t, engine.Hop{}, "hop")
	ml := middle.listen(t, "hop")

	origin := newTestNode(t, "origin", Config{QueueLen: queueLen, QueueBytes: queueBytes, SendWait: -1})
	app := origin.app(t, "app")
	route := wire.MustParseRoute(ml.Addr().String() + " => hop => 1#" + ln.Addr().String() + " => sink")
	payload := make([]byte, 16<<10)
	if err := app.Send(route, payload); err != nil {
		t.Fatal(err)
	}
	var nc net.Conn
	select {
	case nc = <-accepted:
		if nc == nil {
			t.Fatal("accept failed")
		}
		defer nc.Close()
	case <-time.After(wait):
		t.Fatal("the warm-up frame did not arrive")
	}

	sent, full := sendUntilFull(t, app, route, payload)
	if !full {
		t.Fatalf("%d sends and the origin's queue never stayed full: the middle kept reading", sent)
	}
	ms := middle.tr.Stats()
	if ms.QueueWaits == 0 || ms.QueueFull != 0 || middle.Stats().MailboxFull != 0 {
		t.Fatalf("middle: transport %+v, node %+v: want waits and no refusals", ms, middle.Stats())
	}
	// Bounded: the middle holds at most its queue, the message it is
	// waiting to queue, and what it has read but not yet handled.
	if live := middle.Pool().Live(); live > 2*queueLen {
		t.Fatalf("middle holds %d messages with its queue bounded at %d", live, queueLen)
	}
	t.Logf("origin sent %d messages of 16 KiB before the pushback reached it", sent)

	// The receiver reads again: everything flows, and what was sent
	// arrives.
	got := make(chan int, 1)
	go func() {
		frames := 0
		var hdr [4]byte
		for {
			if _, err := io.ReadFull(nc, hdr[:]); err != nil {
				got <- frames
				return
			}
			n, _ := wire.FrameLen(hdr[:], wire.DefaultMaxFrame)
			if _, err := io.CopyN(io.Discard, nc, int64(n)); err != nil {
				got <- frames
				return
			}
			if frames++; frames == sent {
				got <- frames
				io.Copy(io.Discard, nc)
				return
			}
		}
	}()
	select {
	case n := <-got:
		if n != sent {
			t.Fatalf("receiver got %d of %d frames", n, sent)
		}
	case <-time.After(wait):
		t.Fatalf("receiver did not get all %d frames", sent)
	}
	nc.Close()
	if err := mn.Close(); err != nil {
		t.Fatal(err)
	}
	if live := mn.Pool().Live(); live != 0 {
		t.Fatalf("middle: %d messages not released after Close", live)
	}
}

// sendUntilFull sends payload along route until the sends have been
// refused with ErrQueueFull 20 times in a row (full), or 100,000 went in,
// or wait is up. Any other error fails the test.
func sendUntilFull(t *testing.T, app *engine.App, route wire.Route, payload []byte) (sent int, full bool) {
	t.Helper()
	streak := 0
	deadline := time.Now().Add(wait)
	for sent < 100_000 && streak < 20 && time.Now().Before(deadline) {
		err := app.Send(route, payload)
		switch {
		case err == nil:
			sent, streak = sent+1, 0
		case errors.Is(err, ErrQueueFull):
			streak++
			time.Sleep(time.Millisecond)
		default:
			t.Fatalf("send %d: %v", sent, err)
		}
	}
	return sent, streak >= 20
}

// stalledPeer listens on a raw socket for one connection, does the
// handshake, reads frames frames and then nothing more: the connection is
// sent on accepted (closed if accepting failed). The listener closes at
// cleanup.
func stalledPeer(t *testing.T, frames int) (net.Listener, chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		nc.Write(goodHello)
		var v [wire.HelloLen]byte
		io.ReadFull(nc, v[:])
		for i := 0; i < frames; i++ {
			var hdr [wire.FramePrefixLen]byte
			io.ReadFull(nc, hdr[:])
			n, _ := wire.FrameLen(hdr[:], wire.DefaultMaxFrame)
			io.CopyN(io.Discard, nc, int64(n))
		}
		accepted <- nc
	}()
	return ln, accepted
}

// Peers that do not read cannot make the transport hold more than
// MaxQueuedBytes in all its queues together, whatever each queue's own
// bound: the first stalled connection fills the budget, and a second one
// is refused once the kernel has taken what it will, its own queue
// nearly empty. When the first peer reads again, the second's sends go
// through.
func TestQueuedBytesBoundAllConnections(t *testing.T) {
	const budget, frame = 256 << 10, 16 << 10
	client := newTestNode(t, "client", Config{QueueLen: 4096, QueueBytes: 4 << 20, MaxQueuedBytes: budget, SendWait: -1})
	app := client.app(t, "app")
	payload := make([]byte, frame)
	var peers []chan net.Conn
	var route wire.Route
	for i := range 2 {
		ln, accepted := stalledPeer(t, 0)
		peers = append(peers, accepted)
		route = wire.MustParseRoute("1#" + ln.Addr().String() + " => sink")
		sent, full := sendUntilFull(t, app, route, payload)
		if !full {
			t.Fatalf("connection %d: %d sends and never refused", i, sent)
		}
		if q := client.tr.Stats().QueuedBytes; q > budget+frame {
			t.Fatalf("connection %d: %d bytes queued with the budget at %d", i, q, budget)
		}
	}
	if live := client.Pool().Live(); live > budget/frame+2 {
		t.Fatalf("%d messages alive with %d bytes of budget", live, budget)
	}
	first := <-peers[0]
	if first == nil {
		t.Fatal("accept failed")
	}
	defer first.Close()
	go io.Copy(io.Discard, first)
	eventually(t, "the first queue to drain", func() bool { return client.tr.Stats().QueuedBytes < budget/2 })
	eventually(t, "a send to the second peer to go in", func() bool { return app.Send(route, payload) == nil })
	for _, p := range peers[1:] {
		if nc := <-p; nc != nil {
			defer nc.Close()
		}
	}
}
