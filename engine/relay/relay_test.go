package relay_test

import (
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/engine/relay"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's package-level goroutine pool (ants), started by its init.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

const wait = 10 * time.Second // generous: only a broken relay takes this long

var fwdN3 = wire.LocalAddr("forward_to_n3")

// newNode starts a node with a TCP transport that closes at cleanup and
// fails t if a message is still live then.
func newNode(t testing.TB, name string) *engine.Node {
	t.Helper()
	cfg := engine.Config{Name: name, Loops: 2}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n, err := engine.NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tcp.New(n, tcp.Config{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Close()
		if live := n.Pool().Live(); live != 0 {
			t.Errorf("%s: %d messages not released after Close", n.Name(), live)
		}
	})
	return n
}

// relayNode is n2: a node listening on TCP with a forwarding service.
type relayNode struct {
	*engine.Node
	l   engine.Listener
	svc *relay.Service
}

func newRelayNode(t testing.TB, addr string) *relayNode {
	t.Helper()
	n := newNode(t, "n2")
	l, err := n.Listen(wire.TCP, addr)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := relay.NewService(n, relay.ServiceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return &relayNode{n, l, svc}
}

// newRegistrant is n3: a node that listens nowhere, with public
// uppercase and hop services, a private echo and an app context.
func newRegistrant(t testing.TB) *engine.Node {
	t.Helper()
	n := newNode(t, "n3")
	start(t, n, engine.Uppercase{}, "uppercase", true)
	start(t, n, engine.Hop{}, "hop", true)
	start(t, n, engine.Echo{}, "private", false)
	return n
}

func start(t testing.TB, n *engine.Node, w engine.Worker, name string, public bool) {
	t.Helper()
	if err := n.StartWorker(w, wire.LocalAddr(name)); err != nil {
		t.Fatal(err)
	}
	if public {
		if err := n.Allow(engine.AllFlows, wire.LocalAddr(name)); err != nil {
			t.Fatal(err)
		}
	}
}

func create(t testing.TB, n *engine.Node, cfg relay.Config) *relay.Relay {
	t.Helper()
	r, err := relay.Create(n, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// client is n1: a node with a connection to the relay node and an app
// context.
type client struct {
	*engine.Node
	conn engine.Conn
	app  *engine.App
}

func newClient(t testing.TB, n2 *relayNode) *client {
	t.Helper()
	n := newNode(t, "n1")
	conn, err := n.Connect(wire.TCP, n2.l.Addr().Value())
	if err != nil {
		t.Fatal(err)
	}
	app, err := n.NewContext(wire.LocalAddr("app"))
	if err != nil {
		t.Fatal(err)
	}
	return &client{n, conn, app}
}

// request sends payload along conn => route and returns the reply's
// payload and return route, or the error.
func (c *client) request(route string, payload string) (string, wire.Route, error) {
	return c.requestWithin(route, payload, wait)
}

func (c *client) requestWithin(route string, payload string, timeout time.Duration) (string, wire.Route, error) {
	r := append(wire.Route{c.conn.Addr()}, wire.MustParseRoute(route)...)
	m, err := c.app.Request(r, []byte(payload), timeout)
	if err != nil {
		return "", nil, err
	}
	defer m.Release()
	return string(m.Payload()), m.Return(), nil
}

func (c *client) mustRequest(t testing.TB, route, payload, want string) wire.Route {
	t.Helper()
	got, ret, err := c.request(route, payload)
	if err != nil {
		t.Fatalf("%s: %v", route, err)
	}
	if got != want {
		t.Fatalf("%s: reply %q, want %q", route, got, want)
	}
	return ret
}

// refused checks that a request along route is refused.
func (c *client) refused(t testing.TB, route string) *engine.RefusedError {
	t.Helper()
	_, _, err := c.request(route, "let me in")
	var re *engine.RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("%s: %v, want a refusal", route, err)
	}
	return re
}

// eventually waits, bounded, for cond.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(wait); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSeedWalkThrough(t *testing.T) {
	n2 := newRelayNode(t, "127.0.0.1:0")
	n3 := newRegistrant(t)
	r := create(t, n3, relay.Config{Name: "n3", At: n2.l.Addr()})
	if got := r.Info(); got.State != relay.StateUp || got.Forward != fwdN3 {
		t.Fatalf("info %+v", got)
	}
	if ls := n3.Listeners(); len(ls) != 0 {
		t.Fatalf("n3 listens at %v", ls)
	}
	rs := n2.svc.Relays()
	if len(rs) != 1 || rs[0].Name != "n3" || rs[0].Forward != fwdN3 || len(rs[0].Route) != 2 || rs[0].Route[1] != r.Address() {
		t.Fatalf("relays on n2: %+v", rs)
	}

	n1 := newClient(t, n2)
	ret := n1.mustRequest(t, "forward_to_n3 => uppercase", "hello relay", "HELLO RELAY")
	// The reply came back over n1's connection, through n2's connection
	// to n3; the relay's worker is not on the way back.
	if len(ret) != 3 || ret[0] != n1.conn.Addr() || ret[1] != rs[0].Route[0] || ret[2] != wire.LocalAddr("uppercase") {
		t.Fatalf("return route %v", ret)
	}
	n1.mustRequest(t, "forward_to_n3 => hop => uppercase", "through the hop", "THROUGH THE HOP")
	for i := 0; i < 10; i++ {
		n1.mustRequest(t, "forward_to_n3 => uppercase", "again", "AGAIN")
	}
	if s := r.Stats(); s.Forwarded != 12 || s.Refused != 0 || s.Registrations != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestAllowList(t *testing.T) {
	n2 := newRelayNode(t, "127.0.0.1:0")
	n3 := newRegistrant(t)
	// private is not public: Allow makes it reachable through the relay,
	// and only it: uppercase, public, is not.
	r := create(t, n3, relay.Config{Name: "n3", At: n2.l.Addr(), Allow: []wire.Address{wire.LocalAddr("private")}})
	n1 := newClient(t, n2)
	n1.mustRequest(t, "forward_to_n3 => private", "echo", "echo")
	n1.refused(t, "forward_to_n3 => uppercase")
	if s := r.Stats(); s.Forwarded != 1 || s.Refused != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestAttackerBehindTheRelay(t *testing.T) {
	n2 := newRelayNode(t, "127.0.0.1:0")
	n3 := newRegistrant(t)
	app3, err := n3.NewContext(wire.LocalAddr("app3"))
	if err != nil {
		t.Fatal(err)
	}
	r := create(t, n3, relay.Config{Name: "n3", At: n2.l.Addr()})
	n1 := newClient(t, n2)
	ret := n1.mustRequest(t, "forward_to_n3 => uppercase", "x", "X")
	toN3 := ret[1].String() // n2's connection to n3, which n1 has now seen

	// n3's app context talks over the relay's node too, on a connection
	// of its own.
	own, err := n3.Connect(wire.TCP, n2.l.Addr().Value())
	if err != nil {
		t.Fatal(err)
	}
	m, err := app3.Request(wire.Route{own.Addr(), n2.svc.Address()}, []byte("garbage"), wait)
	if err != nil {
		t.Fatal(err) // the service answers garbage with a refusal of its own
	}
	m.Release()

	for _, route := range []string{
		"forward_to_n3 => private",                    // not public
		"forward_to_n3 => app3",                       // an app context
		"forward_to_n3 => " + r.Address().String(),    // the relay's own worker
		"forward_to_n3 => hop => private",             // laundered through a public hop
		"forward_to_n3 => hop => app3",                //
		"forward_to_n3 => 1#127.0.0.1:1 => uppercase", // not local: the relay is not a hop
		toN3 + " => private",                          // past the relay's worker: n3's engine decides
		toN3 + " => app3",                             //
		toN3 + " => hop => app3",                      //
		"forward_to_n3 => hop => " + own.Addr().String() + " => forwarding_service", // onto another of n3's connections
	} {
		n1.refused(t, route)
	}
	// Nothing got to app3.
	if m, err := app3.Receive(0); err == nil {
		m.Release()
		t.Fatal("a message reached n3's app context")
	}
	if s := r.Stats(); s.Refused != 7 {
		t.Fatalf("stats %+v: want the relay's worker to have refused 7", s)
	}

	// n1 cannot take n3's name, nor drop it.
	_, err = relay.Create(n1.Node, relay.Config{Name: "n3", At: n2.l.Addr()})
	var re *relay.RefusedError
	if !errors.As(err, &re) || !errors.Is(err, relay.ErrTaken) || re.Text != "relay name n3 is taken" {
		t.Fatalf("claiming n3 from n1: %v, want taken", err)
	}
	n1.mustRequest(t, "forward_to_n3 => uppercase", "still mine", "STILL MINE")
}

func TestRegistrantGoneFreesTheName(t *testing.T) {
	n2 := newRelayNode(t, "127.0.0.1:0")
	n3 := newRegistrant(t)
	create(t, n3, relay.Config{Name: "n3", At: n2.l.Addr()})
	n1 := newClient(t, n2)
	n1.mustRequest(t, "forward_to_n3 => uppercase", "x", "X")

	n3.Close() // its connection closes with it; no unregistration
	eventually(t, "forward_to_n3 to go", func() bool { return len(n2.svc.Relays()) == 0 })
	re := n1.refused(t, "forward_to_n3 => uppercase")
	if re.Text != "n2: 0#forward_to_n3: no such worker reachable from your link" {
		t.Fatalf("refusal %q", re.Text)
	}

	// The name is free: another node takes it.
	n4 := newRegistrant(t)
	create(t, n4, relay.Config{Name: "n3", At: n2.l.Addr()})
	n1.mustRequest(t, "forward_to_n3 => uppercase", "y", "Y")
}

func TestCloseUnregisters(t *testing.T) {
	n2 := newRelayNode(t, "127.0.0.1:0")
	n3 := newRegistrant(t)
	r := create(t, n3, relay.Config{Name: "n3", At: n2.l.Addr()})
	r.Close()
	r.Close()
	if s := r.Info().State; s != relay.StateClosed {
		t.Fatalf("state %v", s)
	}
	eventually(t, "forward_to_n3 to go", func() bool { return len(n2.svc.Relays()) == 0 })
	eventually(t, "the relay's connection to close", func() bool { return len(n3.Links()) == 0 })
}

func TestRelayNodeRestart(t *testing.T) {
	n2 := newRelayNode(t, "127.0.0.1:0")
	at := n2.l.Addr()
	n3 := newRegistrant(t)
	r := create(t, n3, relay.Config{Name: "n3", At: at})
	newClient(t, n2).mustRequest(t, "forward_to_n3 => uppercase", "before", "BEFORE")

	n2.Close()
	eventually(t, "the relay to see the path down", func() bool { return r.Info().State != relay.StateUp })
	n2 = newRelayNode(t, at.Value())
	eventually(t, "the relay to register again", func() bool { return r.Info().State == relay.StateUp })
	newClient(t, n2).mustRequest(t, "forward_to_n3 => uppercase", "after", "AFTER")
	if s := r.Stats(); s.Reconnects != 1 || s.Registrations != 2 {
		t.Fatalf("stats %+v", s)
	}
	if info := r.Info(); info.LastError == "" || info.LastErrorAt.IsZero() {
		t.Fatalf("info %+v: want the failure", info)
	}
}

func TestPingsComeBack(t *testing.T) {
	n2 := newRelayNode(t, "127.0.0.1:0")
	n3 := newRegistrant(t)
	r := create(t, n3, relay.Config{Name: "n3", At: n2.l.Addr(), PingInterval: 10 * time.Millisecond, PingTimeout: 5 * time.Second})
	eventually(t, "pings to come back", func() bool { return r.Stats().Pongs >= 3 })
	if s := r.Info().State; s != relay.StateUp {
		t.Fatalf("state %v", s)
	}
}

func TestPingTimeoutReconnects(t *testing.T) {
	n2 := newRelayNode(t, "127.0.0.1:0")
	n3 := newRegistrant(t)
	r := create(t, n3, relay.Config{Name: "n3", At: n2.l.Addr(), PingInterval: 10 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	// The forwarder goes while the connection stays: pings stop coming
	// back, and the relay registers again.
	if err := n2.StopWorker(fwdN3); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the relay to register again", func() bool { return r.Stats().Reconnects >= 1 && r.Info().State == relay.StateUp })
	if info := r.Info(); info.LastError != relay.ErrPingTimeout.Error() {
		t.Fatalf("last error %q", info.LastError)
	}
	newClient(t, n2).mustRequest(t, "forward_to_n3 => uppercase", "back", "BACK")
}

func TestCreateErrors(t *testing.T) {
	n3 := newRegistrant(t)
	for _, cfg := range []relay.Config{
		{Name: "", At: wire.MustParseAddress("1#127.0.0.1:1")},
		{Name: "a b", At: wire.MustParseAddress("1#127.0.0.1:1")},
		{Name: "n3", At: wire.LocalAddr("n2")},
		{Name: "n3", At: wire.MustParseAddress("1#127.0.0.1:1"), Allow: []wire.Address{wire.MustParseAddress("1#x:1")}},
	} {
		if _, err := relay.Create(n3, cfg); err == nil {
			t.Errorf("Create(%+v) succeeded", cfg)
		}
	}
	// Nothing listens there: the first registration fails, nothing is left.
	if _, err := relay.Create(n3, relay.Config{Name: "n3", At: wire.MustParseAddress("1#127.0.0.1:1")}); err == nil {
		t.Fatal("Create with no relay node succeeded")
	}
}
