package tcp

import (
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

// dialLoopback lets a node's hop dial loopback addresses for remote
// traffic (engine.Config.AllowDial).
var dialLoopback = []string{"1#127.0.0.0/8"}

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
	tr, err := New(n, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testNode{n, tr}
}

func (n *testNode) listen(t testing.TB, allow ...string) engine.Listener {
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
	return l
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
	l := server.listen(t, "echoer")

	client := newTestNode(t, "client", Config{})
	app := client.app(t, "app")
	for i := 0; i < 3; i++ {
		got, ret := request(t, app, l.Addr().String()+" => echoer", "Hello Ockam!")
		if got != "Hello Ockam!" {
			t.Fatalf("reply %q", got)
		}
		// The reply came back over the connection the route opened: its
		// return route is [client's connection worker, echoer].
		if len(ret) != 2 || ret[1] != wire.MustParseAddress("echoer") || !isConnID([]byte(ret[0].Value())) || ret[0].Type() != wire.Local {
			t.Fatalf("return route %v", ret)
		}
	}
	if s := client.tr.Stats(); s.Dialed != 1 || s.Open != 1 {
		t.Fatalf("client stats %+v: want one connection, reused", s)
	}
}
