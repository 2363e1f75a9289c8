package udp

import (
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/internal/nodetest"
	"github.com/hopwire/hopwire/wire"
)

// gnetReadAllocs is what gnet v2.9.4 allocates for every datagram it
// reads, before OnTraffic runs (see the package doc): in
// eventloop.readUDP, unix.Recvfrom's RawSockaddrAny and the
// SockaddrInet4 anyToSockaddr makes of it; in newUDPConn, the conn, the
// method value el.readUDP in its PollAttachment, and the *net.UDPAddr
// from socket.SockaddrToUDPAddr.
const gnetReadAllocs = 5

// Send allocates nothing once the peer is known: the address is looked
// up without a parse, the datagram leaves with one raw sendto. (The
// receiving side is a raw socket that never reads, so no gnet loop runs
// and the count is the sender's alone.)
func TestSendDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	n := newTestNode(t, "n", Config{})
	to := rawConn(t).LocalAddr().String()
	onward := wire.MustParseRoute("2#" + to + " => echoer")
	ret := wire.MustParseRoute("app")
	payload := make([]byte, 64)
	send := func() {
		m, err := n.Pool().Build(onward, ret, payload)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.tr.Send(m); err != nil && err != ErrBusy {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		send() // learn the peer, warm the pool
	}
	if a := testing.AllocsPerRun(1000, send); a != 0 {
		t.Fatalf("%v allocations per Send", a)
	}
}

// fakeConn is the part of a gnet.Conn that receive uses: the datagram
// and its sender, as gnet's readUDP hands them over. Any other method
// panics (the embedded interface is nil): receive must not need them.
type fakeConn struct {
	gnet.Conn
	b    []byte
	from net.Addr
}

func (c *fakeConn) Next(int) ([]byte, error) { return c.b, nil }
func (c *fakeConn) RemoteAddr() net.Addr     { return c.from }

// receive, the package's whole per-datagram work (sender lookup, copy
// into a pooled message, parse, return address, delivery to the worker),
// allocates nothing once the peer is known, and neither do its drops
// that the package decides itself. It is called here as OnTraffic calls
// it, with a fake gnet.Conn, so the count excludes gnet's own
// allocations (TestRoundTripAllocatesOnlyInGnet counts those). The
// sockets are real but nothing sends to them, so their gnet loops stay
// parked in epoll_wait and the test goroutine is receive's only caller.
func TestReceiveDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	n := newTestNode(t, "n", Config{MaxDatagram: 1024})
	var sunk atomic.Int64
	n.start(t, engine.WorkerFunc(func(*engine.Context, *wire.Message) error {
		sunk.Add(1)
		return nil
	}), "sink")
	bound := n.bind(t, "sink")
	client := n.tr.client
	if err := n.Allow(n.tr.ClientFlow(), wire.LocalAddr("sink")); err != nil { // as a reply path would
		t.Fatal(err)
	}

	// Senders that are never sent to: the addresses are all receive sees.
	from := func(port int) *net.UDPAddr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port} }
	heard, replier, stranger := from(7), from(9), from(13)
	if _, err := n.tr.learnText(replier.String()); err != nil { // as a Send to it would
		t.Fatal(err)
	}
	good := encode(t, n.Pool(), "sink", "app", make([]byte, 64))
	tooBig := make([]byte, 1025)
	copy(tooBig, good)

	// One message in flight at a time, as in a ping-pong: each receive
	// waits until the sink's loop has released what it delivered, so
	// the pool has it back for the next, however GOMAXPROCS schedules
	// that loop meanwhile. (A receiver that outruns its workers grows
	// the pool to the mailboxes' depth first; that is not per datagram.)
	live := n.Pool().Live()
	settle := func() {
		for deadline := nanotime() + int64(wait); n.Pool().Live() > live && nanotime() < deadline; {
			runtime.Gosched()
		}
	}

	const runs = 1000
	for _, tc := range []struct {
		name      string
		s         *socket
		c         *fakeConn
		delivered int64
		bad       uint64
		unsolic   uint64
	}{
		{"bound socket, known peer", bound, &fakeConn{b: good, from: heard}, runs + 1, 0, 0},
		{"client socket, reply from a peer sent to", client, &fakeConn{b: good, from: replier}, runs + 1, 0, 0},
		{"client socket, unsolicited", client, &fakeConn{b: good, from: stranger}, 0, 0, runs + 1},
		{"empty datagram", bound, &fakeConn{b: []byte{}, from: heard}, 0, runs + 1, 0},
		{"datagram over MaxDatagram", bound, &fakeConn{b: tooBig, from: heard}, 0, runs + 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The first datagram from heard learns it; the first drop
			// logs. AllocsPerRun's warm-up call takes both.
			sunk.Store(0)
			before := n.tr.Stats()
			gc := gnet.Conn(tc.c)
			if a := testing.AllocsPerRun(runs, func() { tc.s.receive(gc); settle() }); a != 0 {
				t.Errorf("%v allocations per datagram received", a)
			}
			// Counted where it should be: nothing passed as zero
			// allocations by being dropped on the way.
			waitFor(t, "the messages to reach the sink", func() bool { return sunk.Load() == tc.delivered })
			after := n.tr.Stats()
			if bad, unsolic := after.BadDatagram-before.BadDatagram, after.Unsolicited-before.Unsolicited; bad != tc.bad || unsolic != tc.unsolic ||
				after.Denied != before.Denied || after.Undeliverable != before.Undeliverable {
				t.Fatalf("stats before %+v after %+v", before, after)
			}
		})
	}
}

// Over real sockets, a request and its reply allocate exactly what gnet
// allocates to read the two datagrams, and nothing else: Send, receive
// and the engine's hops add nothing. The count is the whole process's
// (runtime.MemStats), per datagram, rounded down.
func TestRoundTripAllocatesOnlyInGnet(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echoer")
	s := server.bind(t, "echoer")
	client := newTestNode(t, "client", Config{})
	p := nodetest.NewPinger(wire.MustParseRoute(s.Addr().String() + " => echoer"))
	client.start(t, p, "pinger")
	app := client.app(t, "kick")
	kickRoute := wire.MustParseRoute("pinger")
	payload := make([]byte, 64)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	kick := func(rounds int) {
		p.Rounds = rounds
		if err := app.Send(kickRoute, payload); err != nil {
			t.Fatal(err)
		}
		timer.Reset(wait)
		select {
		case <-p.Done:
		case <-timer.C:
			t.Fatalf("no reply: lost datagram? client %+v server %+v", client.tr.Stats(), server.tr.Stats())
		}
	}
	kick(100) // learn the peers, warm the pools

	const kicks, rounds = 4, 250
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < kicks; i++ {
		kick(rounds)
	}
	runtime.ReadMemStats(&after)
	datagrams := uint64(2 * kicks * rounds)
	if per := (after.Mallocs - before.Mallocs) / datagrams; per != gnetReadAllocs {
		t.Fatalf("%d allocations per datagram, want gnet's %d (%d in all for %d datagrams); if gnet changed, update gnetReadAllocs and the package doc",
			per, gnetReadAllocs, after.Mallocs-before.Mallocs, datagrams)
	}
}
