package udp

import (
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/wire"
)

// UDP -> TCP: n1 reaches n3's echoer through n2, over UDP to n2 and TCP
// from n2 to n3, through a hop worker on n2 (the engine will not pass a
// message from the network straight on to a transport). The reply comes
// back the same way to n1's app context.
func TestUDPToTCPBridge(t *testing.T) {
	n3 := newTestNode(t, "n3", Config{})
	rec := recorder{make(chan wire.Route, 1)}
	n3.start(t, rec, "echoer")
	tcp3, err := tcp.New(n3.Node, tcp.Config{EventLoops: 1})
	if err != nil {
		t.Fatal(err)
	}
	l3, err := tcp3.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := n3.Allow(l3.Flow(), wire.LocalAddr("echoer")); err != nil {
		t.Fatal(err)
	}

	// The hop dials on for remote traffic: the node must allow it.
	n2 := newTestNodeWith(t, engine.Config{Name: "n2", Loops: 2, AllowDial: []string{"1#127.0.0.0/8"}}, Config{})
	n2.start(t, engine.Hop{}, "hop")
	s2 := n2.bind(t, "hop")
	tcp2, err := tcp.New(n2.Node, tcp.Config{EventLoops: 1})
	if err != nil {
		t.Fatal(err)
	}

	n1 := newTestNode(t, "n1", Config{})
	t.Cleanup(func() {
		if t.Failed() { // where did it go? (seen once under a loaded full run)
			t.Logf("n1 %+v udp %+v", n1.Stats(), n1.tr.Stats())
			t.Logf("n2 %+v udp %+v tcp %+v", n2.Stats(), n2.tr.Stats(), tcp2.Stats())
			t.Logf("n3 %+v tcp %+v", n3.Stats(), tcp3.Stats())
		}
	})
	app := n1.app(t, "app")
	route := s2.Addr().String() + " => hop => " + l3.Addr().String() + " => echoer"
	for i := 0; i < 3; i++ {
		got, ret := request(t, app, route, "over UDP then TCP")
		if got != "over UDP then TCP" {
			t.Fatalf("reply %q", got)
		}
		// [2#<n2 udp socket>, hop, 0#<n2's TCP connection worker>, echoer]
		if len(ret) != 4 || ret[0] != s2.Addr() || ret[1] != wire.MustParseAddress("hop") ||
			ret[2].Type() != wire.Local || len(ret[2].Value()) != 32 || ret[3] != wire.MustParseAddress("echoer") {
			t.Fatalf("return route at n1 %v", ret)
		}
		// At the echoer: [0#<n3's connection worker>, hop, 2#<n1's client socket>, app, the request's tag].
		at := <-rec.ch
		if len(at) != 5 || at[1] != wire.MustParseAddress("hop") || at[2] != wire.MustParseAddress("2#"+n1.tr.ClientAddr()) || at[3] != wire.MustParseAddress("app") {
			t.Fatalf("return route at echoer %v", at)
		}
	}
}

// What arrives on the client socket reaches the reply paths of what the
// node sent, and what was allowed for the transport's ClientFlow: nothing
// else.
func TestClientFlow(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.WorkerFunc(func(ctx *engine.Context, m *wire.Message) error {
		// Writes to the worker "inbox" behind the peer the request came
		// from: not a reply. The client's notice that it may not, it
		// drops: answering a notice with a message of its own would make
		// a loop.
		if m.Flags()&wire.FlagError != 0 {
			return nil
		}
		return ctx.Send(wire.Route{m.Return()[0], wire.MustParseAddress("inbox")}, m.Payload())
	}), "pusher")
	server.start(t, engine.Echo{}, "echoer")
	s := server.bind(t, "pusher", "echoer")

	client := newTestNode(t, "client", Config{})
	inbox := make(chan struct{}, 1)
	client.start(t, engine.WorkerFunc(func(*engine.Context, *wire.Message) error { inbox <- struct{}{}; return nil }), "inbox")
	app := client.app(t, "app")
	if got, _ := request(t, app, s.Addr().String()+" => echoer", "hi"); got != "hi" {
		t.Fatalf("reply %q", got)
	}
	if err := app.Send(wire.MustParseRoute(s.Addr().String()+" => pusher"), []byte("push")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the push denied", func() bool { return client.tr.Stats().Denied == 1 })
	if err := client.Allow(client.tr.ClientFlow(), wire.LocalAddr("inbox")); err != nil {
		t.Fatal(err)
	}
	if err := app.Send(wire.MustParseRoute(s.Addr().String()+" => pusher"), []byte("push")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inbox:
	case <-time.After(wait):
		t.Fatal("the push did not arrive once ClientFlow was allowed to reach the inbox")
	}
}
