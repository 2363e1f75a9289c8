package udp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/internal/nodetest"
	"github.com/hopwire/hopwire/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's package-level goroutine pool (ants), started by its init.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

const wait = 10 * time.Second // generous: only a broken transport takes this long

// testConfig keeps the client socket on loopback, as tests must.
func testConfig(cfg Config) Config {
	if cfg.ClientAddr == "" {
		cfg.ClientAddr = "127.0.0.1:0"
	}
	return cfg
}

type testNode struct {
	*engine.Node
	tr *Transport
}

func newTestNode(t testing.TB, name string, cfg Config) *testNode {
	t.Helper()
	return newTestNodeWith(t, engine.Config{Name: name, Loops: 2}, cfg)
}

// newTestNodeWith is newTestNode with an engine configuration.
func newTestNodeWith(t testing.TB, ecfg engine.Config, cfg Config) *testNode {
	t.Helper()
	n := nodetest.NewNode(t, ecfg)
	tr, err := New(n, testConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return &testNode{n, tr}
}

func (n *testNode) bind(t testing.TB, allow ...string) *socket {
	t.Helper()
	l, err := n.tr.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range allow {
		if err := n.Allow(l.Flow(), wire.LocalAddr(name)); err != nil {
			t.Fatal(err)
		}
	}
	return l.(*socket)
}

func (n *testNode) start(t testing.TB, w engine.Worker, addr string) {
	t.Helper()
	if err := n.StartWorker(w, wire.LocalAddr(addr)); err != nil {
		t.Fatal(err)
	}
}

func (n *testNode) app(t testing.TB, addr string) *engine.App {
	t.Helper()
	c, err := n.NewContext(wire.LocalAddr(addr))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func request(t testing.TB, app *engine.App, route string, payload string) (string, wire.Route) {
	t.Helper()
	return nodetest.Request(t, app, route, payload, wait)
}

func TestTwoNodesRequestReply(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echoer")
	s := server.bind(t, "echoer")

	client := newTestNode(t, "client", Config{})
	app := client.app(t, "app")
	for i := 0; i < 3; i++ {
		got, ret := request(t, app, s.Addr().String()+" => echoer", "Hello Ockam!")
		if got != "Hello Ockam!" {
			t.Fatalf("reply %q", got)
		}
		// The reply came from the server's socket, which the client put
		// in front of the return route: [2#<server socket>, echoer].
		want := wire.Route{s.Addr(), wire.MustParseAddress("echoer")}
		if !ret.Equal(want) {
			t.Fatalf("return route %v, want %v", ret, want)
		}
	}
	if st := client.tr.Stats(); st.Peers != 1 || st.SendErrors != 0 || st.Unsolicited != 0 {
		t.Fatalf("client stats %+v", st)
	}
	if st := server.tr.Stats(); st.Peers != 1 || st.Sockets != 1 || st.BadDatagram != 0 {
		t.Fatalf("server stats %+v", st)
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

// The return route at the receiver names the sender's client socket, so
// the reply goes back to it.
func TestReturnRouteAtReceiver(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	rec := recorder{make(chan wire.Route, 1)}
	server.start(t, rec, "echoer")
	s := server.bind(t, "echoer")
	client := newTestNode(t, "client", Config{})
	app := client.app(t, "app")
	if got, _ := request(t, app, s.Addr().String()+" => echoer", "x"); got != "x" {
		t.Fatalf("reply %q", got)
	}
	want := wire.Route{wire.MustParseAddress("2#" + client.tr.ClientAddr()), wire.MustParseAddress("app"), wire.MustParseAddress("~req-1")}
	if at := <-rec.ch; !at.Equal(want) {
		t.Fatalf("return route at echoer %v, want %v", at, want)
	}
}

// A worker not allowed on the socket is unreachable from the network,
// yet reachable locally; the denial is counted on both sides of the
// engine boundary and the socket carries on.
func TestAccessControl(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echoer")
	server.start(t, engine.Uppercase{}, "secret")
	s := server.bind(t, "echoer")
	other := server.bind(t) // nothing allowed

	client := newTestNode(t, "client", Config{})
	app := client.app(t, "app")
	const short = 200 * time.Millisecond

	// The server says so in a notice, cut to the size of the request:
	// over UDP a node is no amplifier.
	var re *engine.RefusedError
	if _, err := app.Request(wire.MustParseRoute(s.Addr().String()+" => secret"), []byte("psst"), wait); !errors.As(err, &re) || !strings.HasPrefix("server: 0#secret: no such worker reachable from your link", re.Text) {
		t.Fatalf("request to a worker not allowed: %v, want a *RefusedError", err)
	}
	// The notice leaves inside the delivery the transport counts once it
	// returns: the count may come a moment after the notice.
	waitFor(t, "the transport's Denied", func() bool { return server.tr.Stats().Denied == 1 })
	if st := server.Stats(); st.Denied != 1 {
		t.Fatalf("server node stats %+v, want Denied 1", st)
	}
	// Allowing on one socket allows nothing on another.
	if _, err := app.Request(wire.MustParseRoute(other.Addr().String()+" => echoer"), []byte("hi"), wait); !errors.Is(err, engine.ErrDenied) {
		t.Fatalf("request through a socket with nothing allowed: %v, want a *RefusedError", err)
	}
	// Allowed workers answer.
	if got, _ := request(t, app, s.Addr().String()+" => echoer", "hi"); got != "hi" {
		t.Fatalf("reply %q", got)
	}
	// Locally the worker is there.
	local := server.app(t, "local")
	if got, _ := request(t, local, "secret", "psst"); got != "PSST" {
		t.Fatalf("local reply %q", got)
	}
	// A network message may not leave the node by a transport address:
	// the server says so (in as many bytes as the request had).
	if _, err := app.Request(wire.MustParseRoute(s.Addr().String()+" => "+s.Addr().String()+" => echoer"), []byte("relay me"), wait); !errors.Is(err, engine.ErrDenied) {
		t.Fatalf("relay through the server: %v, want a *RefusedError", err)
	}
	if st := server.tr.Stats(); st.Denied != 3 {
		t.Fatalf("server transport stats %+v, want Denied 3", st)
	}
	// Nor through a public hop: the node sends to no address for a peer,
	// UDP or TCP, unless it allows that destination.
	server.start(t, engine.Hop{}, "hop")
	if err := server.Allow(s.Flow(), wire.LocalAddr("hop")); err != nil {
		t.Fatal(err)
	}
	// The target: a new address, and a peer the server knows (it heard
	// from it), whose datagrams must not be forged by another peer.
	target := rawConn(t)
	victim := newTestNode(t, "victim", Config{})
	vapp := victim.app(t, "app")
	if got, _ := request(t, vapp, s.Addr().String()+" => echoer", "hello"); got != "hello" {
		t.Fatalf("victim's reply %q", got)
	}
	// The new address is a dial the server refuses with a notice; the
	// peer it knows, a link it keeps the hop off without one.
	to := "2#" + target.LocalAddr().String()
	if _, err := app.Request(wire.MustParseRoute(s.Addr().String()+" => hop => "+to+" => app"), []byte("relay me"), wait); !errors.Is(err, engine.ErrDenied) {
		t.Fatalf("relay through the hop to %s: %v, want a *RefusedError", to, err)
	}
	to = "2#" + victim.tr.ClientAddr()
	if _, err := app.Request(wire.MustParseRoute(s.Addr().String()+" => hop => "+to+" => app"), []byte("relay me"), short); !errors.Is(err, engine.ErrTimeout) {
		t.Fatalf("relay through the hop to %s: %v, want a timeout", to, err)
	}
	if r, err := vapp.Receive(0); err == nil {
		r.Release()
		t.Fatal("the victim got a datagram a peer sent through the server's hop")
	}
	waitFor(t, "the hop's denials", func() bool { return server.Stats().Denied == 5 })
	_ = target.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := target.ReadFromUDP(make([]byte, 64)); err == nil {
		t.Fatal("the server sent to the target for a peer")
	}
}
