package udp

import (
	"errors"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/internal/nodetest"
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
	if err := n3.Allow(l3.Flow(), "echoer"); err != nil {
		t.Fatal(err)
	}

	n2 := newTestNode(t, "n2", Config{})
	n2.start(t, engine.Hop{}, "hop")
	s2 := n2.bind(t, "hop")
	if _, err := tcp.New(n2.Node, tcp.Config{EventLoops: 1}); err != nil {
		t.Fatal(err)
	}

	n1 := newTestNode(t, "n1", Config{})
	app := n1.app(t, "app")
	route := "2#" + s2.Addr() + " => hop => 1#" + l3.Addr() + " => echoer"
	for i := 0; i < 3; i++ {
		got, ret := request(t, app, route, "over UDP then TCP")
		if got != "over UDP then TCP" {
			t.Fatalf("reply %q", got)
		}
		// [2#<n2 udp socket>, hop, 0#<n2's TCP connection worker>, echoer]
		if len(ret) != 4 || ret[0] != wire.MustParseAddress("2#"+s2.Addr()) || ret[1] != wire.MustParseAddress("hop") ||
			ret[2].Type() != wire.Local || len(ret[2].Value()) != 32 || ret[3] != wire.MustParseAddress("echoer") {
			t.Fatalf("return route at n1 %v", ret)
		}
		// At the echoer: [0#<n3's connection worker>, hop, 2#<n1's client socket>, app].
		at := <-rec.ch
		if len(at) != 4 || at[1] != wire.MustParseAddress("hop") || at[2] != wire.MustParseAddress("2#"+n1.tr.ClientAddr()) || at[3] != wire.MustParseAddress("app") {
			t.Fatalf("return route at echoer %v", at)
		}
	}
}

// Config.ClientFlow puts replies on the client socket under access
// control: they reach only what the node allowed, its app context
// included.
func TestClientFlow(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echoer")
	s := server.bind(t, "echoer")

	cn := nodetest.NewNode(t, engine.Config{Name: "client"})
	flow := cn.NewFlow()
	tr, err := New(cn, testConfig(Config{ClientFlow: flow}))
	if err != nil {
		t.Fatal(err)
	}
	client := &testNode{cn, tr}
	app := client.app(t, "app")
	route := "2#" + s.Addr() + " => echoer"
	if _, err := app.Request(wire.MustParseRoute(route), []byte("hi"), 200*time.Millisecond); !errors.Is(err, engine.ErrTimeout) {
		t.Fatalf("reply to an app context not allowed for the client flow: %v, want a timeout", err)
	}
	if st := client.tr.Stats(); st.Denied != 1 {
		t.Fatalf("client stats %+v, want the reply denied", st)
	}
	if err := client.Allow(flow, "app"); err != nil {
		t.Fatal(err)
	}
	if got, _ := request(t, app, route, "hi"); got != "hi" {
		t.Fatalf("reply %q", got)
	}
}
