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
	self, err := net.ResolveUDPAddr("udp", s.Addr())
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

// One forged datagram between two nodes' echo services (onward [echoer],
// return [echoer], "from" the other node's socket) makes them answer each
// other: the hop budget ends it, counted where it ends.
func TestEchoLoopBetweenNodesEnds(t *testing.T) {
	a := newTestNode(t, "a", Config{})
	b := newTestNode(t, "b", Config{})
	var answered atomic.Int64
	a.start(t, countingEcho{&answered}, "echoer")
	b.start(t, countingEcho{&answered}, "echoer")
	sa, sb := a.bind(t, "echoer"), b.bind(t, "echoer")
	from, err := net.ResolveUDPAddr("udp", sb.Addr())
	if err != nil {
		t.Fatal(err)
	}
	sa.receive(gnet.Conn(&fakeConn{b: encode(t, a.Pool(), "echoer", "echoer", []byte("ping")), from: from}))
	waitFor(t, "the loop to end", func() bool { return a.Stats().HopsExhausted+b.Stats().HopsExhausted == 1 })
	got := answered.Load()
	time.Sleep(50 * time.Millisecond)
	if again := answered.Load(); again != got || got > wire.DefaultHops {
		t.Fatalf("echoes answered %d, then %d: want it over after at most %d", got, again, wire.DefaultHops)
	}
	t.Logf("the loop ended after %d answers", got)
}
