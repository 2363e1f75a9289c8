package tcp

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// The seed's three nodes: initiator -> TCP -> middle, whose forwarder
// sends on to the responder's echoer over a second TCP connection; the
// reply comes back the same way.
func TestThreeNodesForwarder(t *testing.T) {
	responder := newTestNode(t, "responder", Config{})
	responder.start(t, engine.Echo{}, "echoer")
	lr := responder.listen(t, "echoer")

	middle := newTestNode(t, "middle", Config{})
	middle.start(t, engine.Forwarder{Route: wire.MustParseRoute(lr.Addr().String() + " => echoer")}, "forward_to_responder")
	lm := middle.listen(t, "forward_to_responder")

	initiator := newTestNode(t, "initiator", Config{})
	app := initiator.app(t, "app")
	for i := 0; i < 3; i++ {
		got, ret := request(t, app, lm.Addr().String()+" => forward_to_responder", "Hello Ockam!")
		if got != "Hello Ockam!" {
			t.Fatalf("reply %q", got)
		}
		// [initiator's conn worker, middle's conn worker, echoer]
		if len(ret) != 3 || ret[2] != wire.MustParseAddress("echoer") {
			t.Fatalf("return route %v", ret)
		}
	}
	if s := middle.tr.Stats(); s.Dialed != 1 || s.Accepted != 1 {
		t.Fatalf("middle stats %+v", s)
	}
}

// recorder echoes, telling the test what it saw.
type recorder struct{ ch chan wire.Route }

func (r recorder) HandleMessage(ctx *engine.Context, m *wire.Message) error {
	select {
	case r.ch <- m.Return():
	default:
	}
	return ctx.Reply(m)
}

// TCP -> TCP -> TCP: four nodes, a hop worker on each middle node, so the
// reply comes back through every node and connection.
func TestFourNodeChainThroughHops(t *testing.T) {
	n4 := newTestNode(t, "n4", Config{})
	rec := recorder{make(chan wire.Route, 1)}
	n4.start(t, rec, "echoer")
	l4 := n4.listen(t, "echoer")

	// The hops dial on for remote traffic: the nodes must allow it.
	n3 := newTestNodeWith(t, engine.Config{Name: "n3", Loops: 2, AllowDial: dialLoopback}, Config{})
	n3.start(t, engine.Hop{}, "hop3")
	l3 := n3.listen(t, "hop3")

	n2 := newTestNodeWith(t, engine.Config{Name: "n2", Loops: 2, AllowDial: dialLoopback}, Config{})
	n2.start(t, engine.Hop{}, "hop2")
	l2 := n2.listen(t, "hop2")

	n1 := newTestNode(t, "n1", Config{})
	app := n1.app(t, "app")
	route := l2.Addr().String() + " => hop2 => " + l3.Addr().String() + " => hop3 => " + l4.Addr().String() + " => echoer"
	for i := 0; i < 3; i++ {
		got, ret := request(t, app, route, "through three links")
		if got != "through three links" {
			t.Fatalf("reply %q", got)
		}
		// Each receiving side put its connection worker in front:
		// [n1 conn, hop2, n2 conn, hop3, n3 conn, echoer].
		if len(ret) != 6 || ret[1] != wire.MustParseAddress("hop2") || ret[3] != wire.MustParseAddress("hop3") || ret[5] != wire.MustParseAddress("echoer") {
			t.Fatalf("return route at n1 %v", ret)
		}
		// At the echoer: [n4 conn, hop3, n3 conn, hop2, n2 conn, app, the request's tag].
		at := <-rec.ch
		if len(at) != 7 || at[5] != wire.MustParseAddress("app") || at[1] != wire.MustParseAddress("hop3") {
			t.Fatalf("return route at echoer %v", at)
		}
	}
}

// A worker not allowed on the listener is unreachable from the network,
// yet reachable locally; the denial is counted on both sides of the
// engine boundary and the connection stays up.
func TestAccessControl(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echoer")
	server.start(t, engine.Uppercase{}, "secret")
	l := server.listen(t, "echoer")

	client := newTestNode(t, "client", Config{})
	app := client.app(t, "app")

	// The server says so in a notice: what it says of a worker that
	// does not exist.
	var re *engine.RefusedError
	if _, err := app.Request(wire.MustParseRoute(l.Addr().String()+" => secret"), []byte("psst"), wait); !errors.As(err, &re) || re.Text != "server: 0#secret: no such worker reachable from your link" {
		t.Fatalf("request to a worker not allowed: %v, want a *RefusedError", err)
	}
	// The notice leaves inside the delivery the transport counts once it
	// returns: the count may come a moment after the notice.
	eventually(t, "the transport's Denied", func() bool { return server.tr.Stats().Denied == 1 })
	if s := server.Stats(); s.Denied != 1 {
		t.Fatalf("server node stats %+v, want Denied 1", s)
	}
	// The connection is still up and allowed workers answer on it.
	if got, _ := request(t, app, l.Addr().String()+" => echoer", "hi"); got != "hi" {
		t.Fatalf("reply %q", got)
	}
	// Locally the worker is there.
	local := server.app(t, "local")
	if got, _ := request(t, local, "secret", "psst"); got != "PSST" {
		t.Fatalf("local reply %q", got)
	}
	// A network message may not leave the node by a transport address:
	// the server says so.
	if _, err := app.Request(wire.MustParseRoute(l.Addr().String()+" => "+l.Addr().String()+" => echoer"), []byte("relay me"), wait); !errors.As(err, &re) || re.Text != "server: remote traffic may not make this node dial "+l.Addr().String() {
		t.Fatalf("relay through the server: %v, want a *RefusedError", err)
	}
	if s := server.tr.Stats(); s.Denied != 2 || s.Dialed != 0 {
		t.Fatalf("server transport stats %+v, want Denied 2, nothing dialed", s)
	}
	if s := client.tr.Stats(); s.Open != 1 {
		t.Fatalf("client stats %+v, want the connection still open", s)
	}
}

// Connect opens a new connection each call; its worker address routes
// over it.
func TestConnect(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echoer")
	l := server.listen(t, "echoer")

	client := newTestNode(t, "client", Config{})
	c1, err := client.tr.Connect(l.Addr().Value())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := client.tr.Connect(l.Addr().Value())
	if err != nil {
		t.Fatal(err)
	}
	a1, a2 := c1.Addr(), c2.Addr()
	if a1 == a2 || a1.Type() != wire.Local || !isConnID([]byte(a1.Value())) {
		t.Fatalf("Connect returned %v and %v", a1, a2)
	}
	app := client.app(t, "app")
	for _, a := range []wire.Address{a1, a2} {
		got, ret := request(t, app, a.String()+" => echoer", "over "+a.String())
		if got != "over "+a.String() || ret[0] != a {
			t.Fatalf("reply %q, return route %v", got, ret)
		}
	}
	if s := server.tr.Stats(); s.Accepted != 2 {
		t.Fatalf("server stats %+v", s)
	}
	// Bad addresses and refused connections are errors, not hangs.
	if _, err := client.tr.Connect("no-port"); !errors.Is(err, ErrBadAddress) {
		t.Fatalf("Connect(no-port): %v", err)
	}
	closed := server.listen(t)
	addr := closed.Addr().Value()
	closed.Close()
	if _, err := client.tr.Connect(addr); err == nil {
		t.Fatal("Connect to a closed listener succeeded")
	}
}

// A peer on a listener may not route over another peer's connection:
// the connection workers are not reachable from the network, only from
// local workers (a reply goes back through the worker that sent it). The
// victim's node trusts what comes over the connection it dialed, so a
// leak here would reach any worker on it.
func TestConnectionWorkersUnreachableFromTheNetwork(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	rec := recorder{make(chan wire.Route, 1)}
	server.start(t, rec, "recorder")
	server.start(t, engine.Hop{}, "hop")
	l := server.listen(t, "recorder", "hop")
	// Where an open relay would dial: nothing may connect to it.
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	dialed := make(chan struct{}, 1)
	go func() {
		if nc, err := target.Accept(); err == nil {
			dialed <- struct{}{}
			nc.Close()
		}
	}()

	victim := newTestNode(t, "victim", Config{})
	inbox := make(chan wire.Route, 1)
	victim.start(t, recorder{inbox}, "inbox")
	vapp := victim.app(t, "app")
	request(t, vapp, l.Addr().String()+" => recorder", "hello")
	ret := <-rec.ch // [server's worker for the victim's connection, app, the request's tag]
	if len(ret) != 3 || !isConnID([]byte(ret[0].Value())) {
		t.Fatalf("return route at the server %v", ret)
	}
	victimConn := ret[0].String()

	attacker := newTestNode(t, "attacker", Config{})
	aapp := attacker.app(t, "app")
	request(t, aapp, l.Addr().String()+" => recorder", "warm up")
	<-rec.ch
	for _, route := range []string{
		l.Addr().String() + " => " + victimConn + " => inbox",
		l.Addr().String() + " => " + victimConn + " => app",
	} {
		if _, err := aapp.Request(wire.MustParseRoute(route), []byte("sneak"), 200*time.Millisecond); !errors.Is(err, engine.ErrTimeout) {
			t.Fatalf("%s: %v, want a timeout", route, err)
		}
	}
	eventually(t, "both denials counted", func() bool { return server.tr.Stats().Denied == 2 })
	// Nor through the public hop: onto the victim's connection, or out
	// to a new address (the node would be an open relay), which the
	// server refuses with a notice.
	for _, route := range []string{
		l.Addr().String() + " => hop => " + victimConn + " => inbox",
		l.Addr().String() + " => hop => " + victimConn + " => app",
	} {
		if _, err := aapp.Request(wire.MustParseRoute(route), []byte("sneak"), 200*time.Millisecond); !errors.Is(err, engine.ErrTimeout) {
			t.Fatalf("%s: %v, want a timeout", route, err)
		}
	}
	route := l.Addr().String() + " => hop => 1#" + target.Addr().String() + " => x"
	if _, err := aapp.Request(wire.MustParseRoute(route), []byte("sneak"), wait); !errors.Is(err, engine.ErrDenied) {
		t.Fatalf("%s: %v, want a *RefusedError", route, err)
	}
	eventually(t, "the hop's denials counted", func() bool { return server.Stats().Denied == 5 })
	if s := server.tr.Stats(); s.Dialed != 0 {
		t.Fatalf("the server dialed for a peer: %+v", s)
	}
	select {
	case r := <-inbox:
		t.Fatalf("the victim's inbox got a message, return route %v", r)
	case <-dialed:
		t.Fatal("the server connected to the target for a peer")
	default:
	}
	if s := victim.Stats(); s.Denied != 0 {
		t.Fatalf("victim stats %+v: nothing should have reached it", s)
	}
	// The victim's connection still works, both ways.
	if got, _ := request(t, vapp, l.Addr().String()+" => recorder", "still here"); got != "still here" {
		t.Fatalf("reply %q", got)
	}
	<-rec.ch
}

// What comes back over a connection a node dialed reaches the reply
// paths of what the node sent over it, and what was allowed for the
// transport's DialedFlow: nothing else.
func TestDialedFlow(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.WorkerFunc(func(ctx *engine.Context, m *wire.Message) error {
		// Writes to the worker "inbox" behind the connection the request
		// came over: not a reply. The client's notice that it may not,
		// it drops: answering a notice with a message of its own would
		// make a loop.
		if m.Flags()&wire.FlagError != 0 {
			return nil
		}
		return ctx.Send(wire.Route{m.Return()[0], wire.MustParseAddress("inbox")}, m.Payload())
	}), "pusher")
	server.start(t, engine.Echo{}, "echoer")
	l := server.listen(t, "pusher", "echoer")

	client := newTestNode(t, "client", Config{})
	inbox := make(chan struct{}, 1)
	client.start(t, engine.WorkerFunc(func(*engine.Context, *wire.Message) error { inbox <- struct{}{}; return nil }), "inbox")
	app := client.app(t, "app")
	// A reply reaches the app that sent the request: its reply path.
	if got, _ := request(t, app, l.Addr().String()+" => echoer", "hi"); got != "hi" {
		t.Fatalf("reply %q", got)
	}
	// The server may not write to a worker the client did not send from.
	if err := app.Send(wire.MustParseRoute(l.Addr().String()+" => pusher"), []byte("push")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the push denied", func() bool { return client.tr.Stats().Denied == 1 })
	if err := client.Allow(client.tr.DialedFlow(), wire.LocalAddr("inbox")); err != nil {
		t.Fatal(err)
	}
	if err := app.Send(wire.MustParseRoute(l.Addr().String()+" => pusher"), []byte("push")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inbox:
	case <-time.After(wait):
		t.Fatal("the push did not arrive once DialedFlow was allowed to reach the inbox")
	}
}

// A handler that a message from the network reached (run by the
// connection's gnet loop, which borrowed the node's loop) can stop the
// node with Shutdown and a done context: closing the transport waits for
// that gnet loop, which is free again once the handler returns.
func TestShutdownFromANetworkHandler(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	done, cancel := context.WithCancel(context.Background())
	cancel()
	server.start(t, engine.WorkerFunc(func(*engine.Context, *wire.Message) error {
		_ = server.Shutdown(done)
		return nil
	}), "stopper")
	l := server.listen(t, "stopper")
	client := newTestNode(t, "client", Config{})
	app := client.app(t, "app")
	if err := app.Send(wire.MustParseRoute(l.Addr().String()+" => stopper"), []byte("stop")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-server.Done():
	case <-time.After(wait):
		t.Fatal("the server node did not stop")
	}
}

// A connection is in both nodes' registries once its handshake is done,
// and a watcher hears it go down when the peer closes.
func TestConnectionsListedAndWatched(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echoer")
	l := server.listen(t, "echoer")
	watcher := server.app(t, "watcher")
	if err := server.WatchLinks(wire.LocalAddr("watcher")); err != nil {
		t.Fatal(err)
	}
	client := newTestNode(t, "client", Config{})
	c, err := client.tr.Connect(l.Addr().Value())
	if err != nil {
		t.Fatal(err)
	}
	if ls := client.Links(); len(ls) != 1 || ls[0].Addr != c.Addr() || !ls[0].Dialed || ls[0].Type != wire.TCP || ls[0].Peer != l.Addr().Value() {
		t.Fatalf("client's links %+v", ls)
	}
	next := func() engine.LinkEvent {
		m, err := watcher.Receive(wait)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Release()
		ev, err := engine.ParseLinkEvent(m)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	up := next()
	if up.Kind != engine.LinkUp || up.Link.Dialed || up.Link.Spawner != l.Flow() {
		t.Fatalf("server saw %+v", up)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if down := next(); down.Kind != engine.LinkDown || down.Link.Flow != up.Link.Flow {
		t.Fatalf("server saw %+v after the client closed", down)
	}
	if ls := server.Links(); len(ls) != 0 {
		t.Fatalf("server's links after the client closed: %+v", ls)
	}
}
