package engine

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hopwire/hopwire/wire"
)

// accessNode is a node with public services behind a listener, private
// ones, an app context, and the fake transport with two inbound
// connections (alice, mallory) from the listener.
type accessNode struct {
	n              *Node
	f              *fakeTransport
	app            *App
	listener       uint64
	alice, mallory *fakeConn
}

func newAccessNode(t *testing.T, cfg Config) *accessNode {
	n := newNode(t, cfg)
	a := &accessNode{n: n, f: newFakeTransport(t, n), listener: n.newFlow()}
	mustStart(t, n, Echo{}, "echo")
	mustStart(t, n, Echo{}, "private")
	mustStart(t, n, Hop{}, "hop")
	mustStart(t, n, Forwarder{Route: wire.MustParseRoute("private")}, "to_private")
	mustStart(t, n, Forwarder{Route: wire.MustParseRoute("9#backend => echo")}, "to_backend")
	a.app = mustContext(t, n, "app")
	if err := n.Allow(a.listener, wire.LocalAddr("echo"), wire.LocalAddr("hop"), wire.LocalAddr("to_private"), wire.LocalAddr("to_backend")); err != nil {
		t.Fatal(err)
	}
	a.alice, a.mallory = a.f.accept("alice", a.listener), a.f.accept("mallory", a.listener)
	return a
}

// denied waits until the node has counted want denials in all.
func (a *accessNode) denied(t *testing.T, want uint64) {
	t.Helper()
	eventuallyT(t, "denials", func() bool { return a.n.Stats().Denied >= want })
	if d := a.n.Stats().Denied; d != want {
		t.Fatalf("Denied = %d, want %d", d, want)
	}
}

func TestAccessFromAListener(t *testing.T) {
	a := newAccessNode(t, Config{})
	// An allowed service answers, over the connection the request came in on.
	if err := a.f.deliver(a.alice, "echo", "app", "hi"); err != nil {
		t.Fatal(err)
	}
	if got := a.f.expect("alice"); got != "hi" {
		t.Fatalf("echo: %q", got)
	}
	// Default deny: a worker not allowed for the listener, an app context.
	// The sender hears of it in a notice that says what one for a
	// worker that does not exist says.
	for _, to := range []string{"private", "app", "nosuch"} {
		if err := a.f.deliver(a.alice, to, "x", "x"); !errors.Is(err, ErrDenied) && to != "nosuch" {
			t.Fatalf("to %s: %v", to, err)
		}
		a.f.expectNotices("alice", "0#"+to+noticeText)
	}
	a.denied(t, 2)
	// Allowed for one connection only.
	if err := a.n.Allow(a.alice.link.Flow(), wire.LocalAddr("private")); err != nil {
		t.Fatal(err)
	}
	if err := a.f.deliver(a.alice, "private", "x", "mine"); err != nil {
		t.Fatal(err)
	}
	a.f.expect("alice")
	if err := a.f.deliver(a.mallory, "private", "x", "x"); !errors.Is(err, ErrDenied) {
		t.Fatalf("another connection of the listener: %v", err)
	}
	a.f.expectNotices("mallory", "0#private"+noticeText)
	a.denied(t, 3)
	if err := a.n.Revoke(a.alice.link.Flow(), wire.LocalAddr("private")); err != nil {
		t.Fatal(err)
	}
	if err := a.f.deliver(a.alice, "private", "x", "x"); !errors.Is(err, ErrDenied) {
		t.Fatalf("after Revoke: %v", err)
	}
	a.f.expectNotices("alice", "0#private"+noticeText)
	a.denied(t, 4)
}

// The origin survives hops: a public hop or forwarder does not launder a
// message into local traffic.
func TestAccessSurvivesHops(t *testing.T) {
	a := newAccessNode(t, Config{})
	for _, route := range []string{"hop => private", "hop => app", "to_private", "hop => hop => private"} {
		if err := a.f.deliver(a.mallory, route, "x", "x"); err != nil {
			t.Fatalf("%s: the first hop is public: %v", route, err)
		}
	}
	a.denied(t, 4)
	a.f.expectNotices("mallory", "0#private"+noticeText, "0#app"+noticeText, "0#private"+noticeText, "0#private"+noticeText)
	a.f.quiet()
	// Locally the private worker is reachable, through the hop too.
	r, err := a.app.Request(wire.MustParseRoute("hop => private"), []byte("local"), wait)
	if err != nil {
		t.Fatal(err)
	}
	r.Release()
}

// Onto an inbound connection goes only a reply on the return path of a
// message that came in over it: not a peer's injection through the hop,
// nor a message straight from the network.
func TestAccessNoInjectionOntoAnotherPeer(t *testing.T) {
	a := newAccessNode(t, Config{})
	if err := a.f.deliver(a.mallory, "hop => 0#alice => victim_app", "x", "injected"); err != nil {
		t.Fatal(err)
	}
	if err := a.f.deliver(a.mallory, "0#alice => victim_app", "x", "injected"); !errors.Is(err, ErrDenied) {
		t.Fatalf("straight to another peer's connection: %v", err)
	}
	a.denied(t, 2)
	a.f.quiet()
	// Its own connection, back: harmless, allowed.
	if err := a.f.deliver(a.mallory, "hop => 0#mallory => x", "x", "boomerang"); err != nil {
		t.Fatal(err)
	}
	a.f.expect("mallory")
}

// Remote traffic never makes the node dial, unless a forwarder's route
// says so or Config.AllowDial allows the destination; the hop bridges
// onto connections the node dialed.
func TestAccessDialing(t *testing.T) {
	a := newAccessNode(t, Config{})
	if err := a.f.deliver(a.mallory, "hop => 9#anywhere => x", "x", "ssrf"); err != nil {
		t.Fatal(err)
	}
	a.denied(t, 1)
	a.f.expectNotices("mallory", "hop may not dial 9#anywhere (the node's allow-dial list does not allow it)")
	a.f.quiet()
	// A forwarder goes where its configured route says.
	if err := a.f.deliver(a.alice, "to_backend", "app", "via forwarder"); err != nil {
		t.Fatal(err)
	}
	if got := a.f.expect("backend"); got != "via forwarder" {
		t.Fatalf("forwarded %q", got)
	}
	// The backend connection is now one the node dialed: the hop bridges
	// onto it.
	if err := a.f.deliver(a.mallory, "hop => 9#backend => x", "x", "bridged"); err != nil {
		t.Fatal(err)
	}
	a.f.expect("backend")
	// Straight from the network (no hop) it does not.
	if err := a.f.deliver(a.mallory, "9#backend => x", "x", "x"); !errors.Is(err, ErrDenied) {
		t.Fatalf("straight onto a dialed connection: %v", err)
	}
	a.denied(t, 2)

	b := newAccessNode(t, Config{AllowDial: []string{"9#allowed"}})
	if err := b.f.deliver(b.mallory, "hop => 9#allowed => x", "x", "ok"); err != nil {
		t.Fatal(err)
	}
	b.f.expect("allowed")
	if err := b.f.deliver(b.mallory, "hop => 9#other => x", "x", "no"); err != nil {
		t.Fatal(err)
	}
	b.denied(t, 1)
	b.f.expectNotices("mallory", "hop may not dial 9#other (the node's allow-dial list does not allow it)")
	b.f.quiet()
}

// What comes back over a connection the node dialed reaches the workers
// that sent over it (the reply path) and what was allowed for it, and a
// reply through a forwarder or hop finds its way back to the peer it
// answers: and nothing else.
func TestAccessReplyPaths(t *testing.T) {
	a := newAccessNode(t, Config{})
	// The app sends over a dialed connection, through the hop.
	if err := a.app.Send(wire.MustParseRoute("hop => 9#backend => echo"), []byte("q")); err != nil {
		t.Fatal(err)
	}
	a.f.expect("backend")
	backend := a.f.conns["backend"]
	// Its reply comes back: [hop, app], as the backend's echo sends it.
	if err := a.f.deliver(backend, "hop => app", "", "answer"); err != nil {
		t.Fatal(err)
	}
	r, err := a.app.Receive(wait)
	if err != nil {
		t.Fatalf("reply over the dialed connection: %v", err)
	}
	if string(r.Payload()) != "answer" {
		t.Fatalf("reply %q", r.Payload())
	}
	r.Release()
	// The backend reaches nothing else.
	if err := a.f.deliver(backend, "private", "", "x"); !errors.Is(err, ErrDenied) {
		t.Fatalf("dialed connection to a private worker: %v", err)
	}
	if err := a.f.deliver(backend, "0#alice => x", "", "x"); !errors.Is(err, ErrDenied) {
		t.Fatalf("dialed connection onto an inbound one: %v", err)
	}
	a.denied(t, 2)

	// Alice's request goes to the backend through the forwarder: the
	// backend's reply may go back over alice's connection, and only hers.
	if err := a.f.deliver(a.alice, "to_backend", "app", "for alice"); err != nil {
		t.Fatal(err)
	}
	a.f.expect("backend")
	if err := a.f.deliver(backend, "0#alice => app", "", "reply to alice"); err != nil {
		t.Fatal(err)
	}
	if got := a.f.expect("alice"); got != "reply to alice" {
		t.Fatalf("got %q", got)
	}
	if err := a.f.deliver(backend, "0#mallory => app", "", "x"); !errors.Is(err, ErrDenied) {
		t.Fatalf("reply onto a connection it was not granted: %v", err)
	}
	a.denied(t, 3)

	// Closing a link revokes what it was granted.
	backend.link.Close()
	if err := a.f.deliver(backend, "0#alice => app", "", "late"); !errors.Is(err, ErrDenied) {
		t.Fatalf("after the link closed: %v", err)
	}
	if err := a.f.deliver(backend, "app", "", "late"); !errors.Is(err, ErrDenied) {
		t.Fatalf("after the link closed: %v", err)
	}
}

// A message that arrives with no hop budget left is dropped and counted:
// two nodes' echo services cannot answer each other for ever.
func TestHopBudgetEndsLoops(t *testing.T) {
	a := newAccessNode(t, Config{})
	m, err := a.n.Pool().Build(wire.MustParseRoute("echo"), wire.MustParseRoute("0#alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	m.SetHops(1)
	if err := a.alice.in.Deliver(a.alice.link, m); err != nil {
		t.Fatal(err)
	}
	s := <-a.f.out
	if s.m.Hops() != 0 {
		t.Fatalf("the reply has %d hops left, want 0 (inherited from its request, less this node)", s.m.Hops())
	}
	// Bounced back as the other node would: none left.
	if err := s.m.Turn(wire.MustParseAddress("echo")); err != nil {
		t.Fatal(err)
	}
	if err := s.m.Redirect(wire.MustParseRoute("echo")); err != nil {
		t.Fatal(err)
	}
	if err := a.alice.in.Deliver(a.alice.link, s.m); !errors.Is(err, ErrHopsExhausted) {
		t.Fatalf("a message with no hops left: %v", err)
	}
	if n := a.n.Stats().HopsExhausted; n != 1 {
		t.Fatalf("HopsExhausted = %d", n)
	}
}

func TestAllowDialConfig(t *testing.T) {
	p, err := parseDialPolicy([]string{"1#10.0.0.0/8", "2#127.0.0.0/8:4000", "1#host:99", "2#*", "3#/run/a.sock"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		t    wire.Type
		v    string
		want bool
	}{
		{wire.TCP, "10.1.2.3:80", true},
		{wire.TCP, "11.1.2.3:80", false},
		{wire.TCP, "host:99", true},
		{wire.TCP, "host:98", false},
		{wire.UDP, "8.8.8.8:53", true},
		{wire.Unix, "/run/a.sock", true},
		{wire.Unix, "/run/b.sock", false},
		{9, "x", false},
	} {
		if got := p.allows(tc.t, []byte(tc.v)); got != tc.want {
			t.Errorf("%d#%s: %v", tc.t, tc.v, got)
		}
	}
	q, _ := parseDialPolicy([]string{"1#127.0.0.0/8:4000"})
	if q.allows(wire.TCP, []byte("127.0.0.1:4001")) || !q.allows(wire.TCP, []byte("127.0.0.1:4000")) {
		t.Error("prefix with port")
	}
	for _, bad := range []string{"echo", "1#10.0.0.0/99", "1#10.0.0.0/8:x"} {
		if _, err := NewNode(Config{AllowDial: []string{bad}}); err == nil {
			t.Errorf("AllowDial %q accepted", bad)
		}
	}
}

func eventuallyT(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A hop's refused send (what the network asked of it) is logged at warn
// level, once a second however many there are, and every one counted.
func TestRefusalsLoggedOnceASecond(t *testing.T) {
	var out lockedBuffer
	a := newAccessNode(t, Config{Logger: slog.New(slog.NewTextHandler(&out, nil))})
	began := time.Now()
	for i := 0; i < 5; i++ {
		if err := a.f.deliver(a.mallory, "hop => 9#anywhere => x", "x", "ssrf"); err != nil {
			t.Fatal(err)
		}
	}
	a.denied(t, 5)
	for i := 0; i < 5; i++ {
		a.f.expectNotices("mallory", "hop may not dial 9#anywhere (the node's allow-dial list does not allow it)")
	}
	if s := a.n.Stats(); s.HandlerErrors != 5 {
		t.Fatalf("HandlerErrors = %d", s.HandlerErrors)
	}
	most := 1 + int(time.Since(began)/time.Second)
	if k := strings.Count(out.String(), "refused by access control"); k < 1 || k > most {
		t.Fatalf("%d warnings for 5 refusals, want 1 to %d:\n%s", k, most, out.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
