package tcp

import (
	"errors"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// floodEnd is how a flood ended: frames written, and the write error
// that stopped it (nil if stop did, or the count).
type floodEnd struct {
	n   int
	err error
}

// flood writes req to nc over and over until stop is closed, a write
// fails, or a million frames went out, and then says so on the returned
// channel. It never reads.
func flood(nc net.Conn, req []byte, stop <-chan struct{}) <-chan floodEnd {
	done := make(chan floodEnd, 1)
	go func() {
		n := 0
		for ; n < 1<<20; n++ {
			select {
			case <-stop:
				done <- floodEnd{n, nil}
				return
			default:
			}
			if _, err := nc.Write(req); err != nil {
				done <- floodEnd{n, err}
				return
			}
		}
		done <- floodEnd{n, nil}
	}()
	return done
}

// countingEcho echoes, counting the messages it handled.
type countingEcho struct{ n *atomic.Int64 }

func (e countingEcho) HandleMessage(ctx *engine.Context, m *wire.Message) error {
	e.n.Add(1)
	return ctx.Reply(m)
}

// acceptedConn returns the one connection of tr that a listener accepted.
func acceptedConn(t *testing.T, tr *Transport) *conn {
	t.Helper()
	var found *conn
	eventually(t, "the accepted connection", func() bool {
		for _, c := range tr.byID.load() {
			if c.lis != nil {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

// A peer that floods an echo worker and never reads its replies does not
// slow down the other clients of that worker: its replies are refused at
// once, not waited for, and once its queue has stayed full for
// SlowConsumerTimeout it is cut off. A good client's requests all go
// through meanwhile, none lost.
func TestSlowConsumerDoesNotStallOthers(t *testing.T) {
	server := newTestNode(t, "server", Config{QueueLen: 64, QueueBytes: 256 << 10, SlowConsumerTimeout: 200 * time.Millisecond})
	server.start(t, engine.Echo{}, "echoer")
	l := server.listen(t, "echoer")

	client := newTestNode(t, "client", Config{})
	app := client.app(t, "app")
	route := wire.MustParseRoute(l.Addr().String() + " => echoer")
	request(t, app, l.Addr().String()+" => echoer", "warm up")

	attacker := rawDial(t, l.Addr().Value(), nil)
	attacker.SetDeadline(time.Now().Add(2 * wait))
	stop := make(chan struct{})
	defer close(stop)
	flooding := flood(attacker, frame(encoded(t, "echoer", "attacker", string(make([]byte, 16<<10)))), stop)
	eventually(t, "the attacker's replies to be refused", func() bool { return server.tr.Stats().QueueFull > 0 })

	// The good client asks throughout the attack: at least 200 requests,
	// and on until the attacker is cut off. A deadline for not hanging.
	deadline := time.Now().Add(2 * wait)
	n := 0
	for ; n < 200 || server.tr.Stats().SlowConsumers == 0; n++ {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests answered in %v; server stats %+v", n, 2*wait, server.tr.Stats())
		}
		p := strconv.Itoa(n)
		r, err := app.Request(route, []byte(p), wait/2)
		if err != nil {
			t.Fatalf("request %d: %v; server stats %+v, node %+v", n, err, server.tr.Stats(), server.Stats())
		}
		if string(r.Payload()) != p {
			t.Fatalf("request %d: reply %q", n, r.Payload())
		}
		r.Release()
	}

	// The attacker sees its connection closed.
	select {
	case <-flooding:
	case <-time.After(wait):
		t.Fatal("the attacker can still write")
	}
	waitClosed(t, attacker)
	s := server.tr.Stats()
	if s.SlowConsumers != 1 || s.QueueFull == 0 {
		t.Fatalf("server stats %+v: want one slow consumer cut off", s)
	}
	// Only a send that found the connection full but not yet congested
	// waited; the rest were refused at once.
	if s.QueueWaits > s.QueueFull/2 {
		t.Fatalf("server stats %+v: the echoer waited at most refusals", s)
	}
	if c := client.tr.Stats(); c.Dialed != 1 || c.Open != 1 {
		t.Fatalf("the good client's connection was disturbed: %+v", c)
	}
	t.Logf("%d requests answered during the attack; server stats %+v", n, s)
}

// A congested accepted connection whose peer reads again before
// SlowConsumerTimeout is no longer congested once its queue has drained:
// it gets its replies and stays connected.
func TestCongestedPeerRecovers(t *testing.T) {
	server := newTestNode(t, "server", Config{QueueLen: 16, QueueBytes: 64 << 10, SlowConsumerTimeout: wait})
	var handled atomic.Int64
	server.start(t, countingEcho{&handled}, "echoer")
	l := server.listen(t, "echoer")

	nc := rawDial(t, l.Addr().Value(), nil)
	nc.SetDeadline(time.Now().Add(2 * wait))
	c := acceptedConn(t, server.tr)
	stop := make(chan struct{})
	flooding := flood(nc, frame(encoded(t, "echoer", "me", string(make([]byte, 16<<10)))), stop)
	eventually(t, "the connection to be congested", func() bool { return c.out.congested.Load() != 0 })
	close(stop)
	end := <-flooding
	if end.err != nil {
		t.Fatal(end.err)
	}
	// Every request of the flood handled (its reply refused or queued):
	// none comes after the peer reads again to congest the connection anew.
	eventually(t, "the flood to be handled", func() bool {
		return handled.Load()+int64(server.tr.Stats().Undeliverable) == int64(end.n)
	})

	// The peer reads again: the queued replies drain and the connection
	// is no longer congested.
	replies := make(chan string, 64)
	go func() {
		defer close(replies)
		for {
			m, err := readMessage(nc)
			if err != nil {
				return
			}
			if p := m.Payload(); len(p) > 0 && p[0] != 0 {
				replies <- string(p)
			}
			m.Release()
		}
	}()
	eventually(t, "the connection to be no longer congested", func() bool { return !c.stillCongested() })

	const after = 20
	for i := 0; i < after; i++ {
		if _, err := nc.Write(frame(encoded(t, "echoer", "me", "after "+strconv.Itoa(i)))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < after; i++ {
		select {
		case got, ok := <-replies:
			if want := "after " + strconv.Itoa(i); !ok || got != want {
				t.Fatalf("reply %q (open %v), want %q", got, ok, want)
			}
		case <-time.After(wait):
			t.Fatalf("%d of %d replies after the peer read again; server stats %+v", i, after, server.tr.Stats())
		}
	}
	s := server.tr.Stats()
	if s.SlowConsumers != 0 || s.QueueFull == 0 || s.Open != 1 || c.closed.Load() {
		t.Fatalf("server stats %+v: want refusals, and the connection still open", s)
	}
}

// A dialed connection whose peer stops reading is cut off too, once its
// queue has refused sends for SlowConsumerTimeout; until then its sends
// are refused only after SendWait, as before.
func TestSlowConsumerDialedConnectionCut(t *testing.T) {
	client := newTestNode(t, "client", Config{QueueLen: 16, QueueBytes: 64 << 10, SendWait: -1, SlowConsumerTimeout: 100 * time.Millisecond})
	app := client.app(t, "app")
	worker, nc := connectStalled(t, client)

	route := wire.Route{worker, wire.MustParseAddress("sink")}
	payload := make([]byte, 16<<10)
	deadline := time.Now().Add(wait)
	for {
		err := app.Send(route, payload)
		if err != nil && !errors.Is(err, ErrQueueFull) {
			break // cut off: the connection and its worker are gone
		}
		if time.Now().After(deadline) {
			t.Fatalf("sends still going in or refused after %v; stats %+v", wait, client.tr.Stats())
		}
		if err != nil {
			time.Sleep(time.Millisecond)
		}
	}
	waitClosed(t, nc)
	if s := client.tr.Stats(); s.SlowConsumers != 1 || s.QueueFull == 0 || s.Open != 0 {
		t.Fatalf("client stats %+v: want the connection cut off as a slow consumer", s)
	}
}

// A dialed connection whose peer reads steadily, only slower than the
// senders offer, is not a slow consumer: some sends are refused, but
// others get in as the peer makes room, and the connection stays.
func TestSteadyDialedPeerIsNotCut(t *testing.T) {
	client := newTestNode(t, "client", Config{SendWait: -1, SlowConsumerTimeout: 500 * time.Millisecond})
	worker, nc := connectStalled(t, client)
	go func() { // 256 KiB every few milliseconds, until the connection closes
		buf := make([]byte, 256<<10)
		for {
			if _, err := io.ReadFull(nc, buf); err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	// Two senders offer more than the peer reads, for a while longer than
	// SlowConsumerTimeout.
	route := wire.Route{worker, wire.MustParseAddress("sink")}
	end := time.Now().Add(1500 * time.Millisecond)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			app, err := client.NewContext(wire.LocalAddr("sender" + strconv.Itoa(i)))
			if err != nil {
				t.Error(err)
				return
			}
			defer app.Close()
			payload := make([]byte, 16<<10)
			for time.Now().Before(end) {
				if err := app.Send(route, payload); err != nil && !errors.Is(err, ErrQueueFull) {
					t.Errorf("sender %d: %v", i, err)
					return
				}
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
	if s := client.tr.Stats(); s.SlowConsumers != 0 || s.QueueFull == 0 || s.Open != 1 {
		t.Fatalf("client stats %+v: want refusals and the connection kept", s)
	}
}

// connectStalled connects client to a peer that does the handshake and
// then reads nothing, and returns the connection's worker address and the
// peer's side (closed at cleanup).
func connectStalled(t *testing.T, client *testNode) (wire.Address, net.Conn) {
	t.Helper()
	ln, accepted := stalledPeer(t, 0)
	c, err := client.tr.Connect(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc := <-accepted
	if nc == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { nc.Close() })
	return c.Addr(), nc
}
