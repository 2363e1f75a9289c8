package udp

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// countingEcho is an echo service that counts what it answers.
type countingEcho struct{ n *atomic.Int64 }

func (e countingEcho) HandleMessage(ctx *engine.Context, m *wire.Message) error {
	e.n.Add(1)
	return ctx.Reply(m)
}

// A datagram that claims to come from the node's own socket is dropped:
// answering it would be the node talking to itself for ever.
func TestDatagramFromOwnSocketDropped(t *testing.T) {
	n := newTestNode(t, "n", Config{})
	var answered atomic.Int64
	n.start(t, countingEcho{&answered}, "echoer")
	s := n.bind(t, "echoer")
	self, err := net.ResolveUDPAddr("udp", s.Addr().Value())
	if err != nil {
		t.Fatal(err)
	}
	spoofed := encode(t, n.Pool(), "echoer", "echoer", []byte("loop"))
	// As gnet's OnTraffic would hand it over: the source is not ours to
	// forge on a real socket without privileges.
	s.receive(gnet.Conn(&fakeConn{b: spoofed, from: self}))
	s.receive(gnet.Conn(&fakeConn{b: spoofed, from: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: self.Port}}))
	if st := n.tr.Stats(); st.Spoofed != 2 {
		t.Fatalf("stats %+v, want Spoofed 2", st)
	}
	time.Sleep(20 * time.Millisecond)
	if a := answered.Load(); a != 0 {
		t.Fatalf("the echo answered %d forged datagrams", a)
	}
}

// A peer that reflects every datagram back (as a second node's echo
// would: onward [echoer], return [echoer]) keeps a node's echo answering
// it: the hop budget, which each datagram the node takes in spends and
// each reply inherits, ends the loop, counted where it ends.
func TestEchoLoopEnds(t *testing.T) {
	a := newTestNode(t, "a", Config{})
	var answered atomic.Int64
	a.start(t, countingEcho{&answered}, "echoer")
	sa := a.bind(t, "echoer")
	to, err := net.ResolveUDPAddr("udp", sa.Addr().Value())
	if err != nil {
		t.Fatal(err)
	}
	mirror := rawConn(t)
	reflected := make(chan int, 1)
	go func() {
		buf := make([]byte, 2048)
		n := 0
		for ; n < 1000; n++ { // bounded: the loop must end long before
			_ = mirror.SetReadDeadline(time.Now().Add(time.Second))
			k, _, err := mirror.ReadFromUDP(buf)
			if err != nil {
				break
			}
			if _, err := mirror.WriteToUDP(buf[:k], to); err != nil {
				break
			}
		}
		reflected <- n
	}()
	sendRaw(t, mirror, sa.Addr().Value(), encode(t, a.Pool(), "echoer", "echoer", []byte("ping")))
	waitFor(t, "the loop to end", func() bool { return a.Stats().HopsExhausted == 1 })
	n := <-reflected
	if got := answered.Load(); got > wire.DefaultHops || int64(n) != got {
		t.Fatalf("the echo answered %d times, the mirror reflected %d: want them equal and at most %d", got, n, wire.DefaultHops)
	}
	t.Logf("the loop ended after %d answers", n)
}

// A worker watching links may send over the transport from its handler:
// a new peer's link comes up while the transport holds its peer table's
// lock, and the event is queued, not run there.
func TestLinkWatcherSends(t *testing.T) {
	n := newTestNode(t, "n", Config{})
	out := rawConn(t)
	to := "2#" + out.LocalAddr().String() + " => x"
	n.start(t, engine.WorkerFunc(func(ctx *engine.Context, m *wire.Message) error {
		if ev, err := engine.ParseLinkEvent(m); err == nil && ev.Kind == engine.LinkUp && ev.Link.Peer != out.LocalAddr().String() {
			return ctx.Send(wire.MustParseRoute(to), []byte("a peer came"))
		}
		return nil
	}), "watcher")
	if err := n.WatchLinks(wire.LocalAddr("watcher")); err != nil {
		t.Fatal(err)
	}
	n.start(t, engine.Echo{}, "echoer")
	s := n.bind(t, "echoer")
	client := rawConn(t)
	sendRaw(t, client, s.Addr().Value(), encode(t, n.Pool(), "echoer", "me", []byte("hi")))
	_ = out.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 512)
	if _, _, err := out.ReadFromUDP(buf); err != nil {
		t.Fatalf("the watcher's datagram: %v", err)
	}
}
