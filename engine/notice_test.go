package engine

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hopwire/hopwire/wire"
)

// deliverNotice hands the node a refusal notice that arrived over c,
// onward along route.
func (f *fakeTransport) deliverNotice(c *fakeConn, route wire.Route, text string) error {
	f.t.Helper()
	m, err := f.node.Pool().Build(route, nil, []byte(text))
	if err != nil {
		f.t.Fatal(err)
	}
	m.SetFlags(wire.FlagError)
	if err := m.PrependReturn(wire.MustParseAddress("0#" + c.name)); err != nil {
		f.t.Fatal(err)
	}
	return c.in.Deliver(c.link, m)
}

// A message from the network for a worker that does not exist, or one
// its origin may not reach, is answered over the link it came in on by a
// notice along its return route, prefixed with the node's name; both say
// the same.
func TestNoticeForUnknownAndDenied(t *testing.T) {
	a := newAccessNode(t, Config{Name: "n1"})
	if err := a.f.deliver(a.alice, "nosuch", "app => ~req-7", "x"); !errors.Is(err, ErrUnknownWorker) {
		t.Fatalf("to an unknown worker: %v", err)
	}
	s := <-a.f.out
	if s.conn != "alice" || s.m.Flags() != wire.FlagError || s.m.ReturnLen() != 0 || s.m.Hops() != wire.DefaultHops {
		t.Fatalf("over %s: flags %d, return %v, hops %d", s.conn, s.m.Flags(), s.m.Return(), s.m.Hops())
	}
	if got, want := s.m.Onward().String(), "0#app => 0#~req-7"; got != want {
		t.Errorf("the notice goes on along %s, want %s (the return route, nearest first)", got, want)
	}
	if got, want := string(s.m.Payload()), "n1: 0#nosuch: no such worker reachable from your link"; got != want {
		t.Errorf("text %q, want %q", got, want)
	}
	s.m.Release()
	if err := a.f.deliver(a.alice, "private", "app", "x"); !errors.Is(err, ErrDenied) {
		t.Fatalf("to a private worker: %v", err)
	}
	a.f.expectNotices("alice", "n1: 0#private: no such worker reachable from your link")
	// Past a public hop the same: the notice retraces the hop.
	if err := a.f.deliver(a.mallory, "hop => nosuch", "app", "x"); err != nil {
		t.Fatal(err)
	}
	a.f.expectNotices("mallory", "n1: 0#nosuch: no such worker reachable from your link")
	if st := a.n.Stats(); st.NoticesSent != 3 || st.NoticesHeld != 0 {
		t.Fatalf("NoticesSent %d, NoticesHeld %d", st.NoticesSent, st.NoticesHeld)
	}
}

// A hop asked to dial where Config.AllowDial does not allow says so.
func TestNoticeForRefusedDial(t *testing.T) {
	a := newAccessNode(t, Config{Name: "n1", AllowDial: []string{"9#allowed"}})
	if err := a.f.deliver(a.mallory, "hop => 9#elsewhere => echo", "app", "x"); err != nil {
		t.Fatal(err)
	}
	a.f.expectNotices("mallory", "n1: hop may not dial 9#elsewhere (the node's allow-dial list does not allow it)")
	// Straight from the network, with no hop: no dial either.
	if err := a.f.deliver(a.mallory, "9#elsewhere => echo", "app", "x"); !errors.Is(err, ErrDenied) {
		t.Fatal(err)
	}
	a.f.expectNotices("mallory", "n1: remote traffic may not make this node dial 9#elsewhere")
	a.f.quiet()
}

// No notice answers a notice, local traffic, or a message with no return
// route past its link; no worker of the engine's answers one.
func TestNoNotice(t *testing.T) {
	a := newAccessNode(t, Config{})
	if err := a.f.deliverNotice(a.alice, wire.MustParseRoute("nosuch => app"), "from afar"); !errors.Is(err, ErrUnknownWorker) {
		t.Fatalf("a notice to an unknown worker: %v", err)
	}
	if err := a.f.deliverNotice(a.alice, wire.MustParseRoute("private => app"), "from afar"); !errors.Is(err, ErrDenied) {
		t.Fatalf("a notice to a private worker: %v", err)
	}
	if err := a.f.deliver(a.alice, "nosuch", "", "x"); !errors.Is(err, ErrUnknownWorker) {
		t.Fatalf("no return route: %v", err)
	}
	if err := a.app.Send(wire.MustParseRoute("nosuch"), []byte("x")); !errors.Is(err, ErrUnknownWorker) {
		t.Fatalf("local: %v", err)
	}
	// Echo and Uppercase drop a notice: answering would send it back.
	mustStart(t, a.n, Uppercase{}, "upper")
	if err := a.n.Allow(a.listener, wire.LocalAddr("upper")); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"echo", "upper", "hop => echo"} {
		if err := a.f.deliverNotice(a.alice, wire.MustParseRoute(to+" => x"), "from afar"); err != nil {
			t.Fatalf("a notice to %s: %v", to, err)
		}
	}
	a.f.quiet()
	if st := a.n.Stats(); st.NoticesSent != 0 || st.NoticesHeld != 0 || st.HandlerErrors != 0 {
		t.Fatalf("%+v", st)
	}
}

// A flood of bad messages gets a burst of notices, then noticeRate a
// second; the rest are counted, not sent.
func TestNoticeRateLimit(t *testing.T) {
	a := newAccessNode(t, Config{})
	var sent int
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case s := <-a.f.out:
				sent++
				s.m.Release()
			case <-stop:
				return
			}
		}
	}()
	const bad = 1000
	began := time.Now()
	for i := 0; i < bad; i++ {
		_ = a.f.deliver(a.mallory, "nosuch", "app", "x")
	}
	elapsed := time.Since(began)
	eventuallyT(t, "notices", func() bool { st := a.n.Stats(); return st.NoticesSent+st.NoticesHeld == bad })
	st := a.n.Stats()
	eventuallyT(t, "notices out", func() bool { return len(a.f.out) == 0 })
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
	most := noticeBurst + int(elapsed.Seconds()*noticeRate) + 1
	if sent != int(st.NoticesSent) || sent < noticeBurst || sent > most {
		t.Fatalf("%d notices left (NoticesSent %d) for %d bad messages in %v, want %d to %d", sent, st.NoticesSent, bad, elapsed, noticeBurst, most)
	}
	if int(st.NoticesHeld) != bad-sent {
		t.Fatalf("NoticesHeld = %d, want %d", st.NoticesHeld, bad-sent)
	}
}

// A notice whose way back crosses UDP, where senders' addresses can be
// forged, is never larger than the message it answers: its text is cut.
func TestNoticeNoLargerOverUDP(t *testing.T) {
	a := newAccessNode(t, Config{})
	m, err := a.n.Pool().Build(wire.MustParseRoute("nosuch"), wire.MustParseRoute("2#192.0.2.1:9 => app"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.PrependReturn(wire.MustParseAddress("0#alice")); err != nil {
		t.Fatal(err)
	}
	size := m.Len()
	_ = a.alice.in.Deliver(a.alice.link, m)
	s := <-a.f.out
	defer s.m.Release()
	// The fake stepped 0#alice off, as Deliver's m had it on.
	if got := s.m.Len() + 2 + len("alice"); got > size || string(s.m.Payload()) != "0#nosuch" {
		t.Fatalf("notice of %d bytes (%q) for a message of %d", got, s.m.Payload(), size)
	}
}

// An app context's Request gets a notice that answers it as a
// *RefusedError; one that answers an earlier request is stale.
func TestRequestRefused(t *testing.T) {
	a := newAccessNode(t, Config{})
	type result struct {
		m   *wire.Message
		err error
	}
	request := func() (chan result, wire.Route) {
		done := make(chan result, 1)
		go func() {
			m, err := a.app.Request(wire.MustParseRoute("hop => 9#backend => echo"), []byte("q"), wait)
			done <- result{m, err}
		}()
		s := <-a.f.out
		ret := s.m.Return() // [hop, app, ~req-N]
		s.m.Release()
		return done, ret
	}
	done, ret := request()
	backend := a.f.conns["backend"]
	if err := a.f.deliverNotice(backend, ret, "far: 0#echo: no such worker reachable from your link\n\x1b[2J"); err != nil {
		t.Fatal(err)
	}
	r := <-done
	var re *RefusedError
	if !errors.As(r.err, &re) || !errors.Is(r.err, ErrDenied) {
		t.Fatalf("Request: %v, %v", r.m, r.err)
	}
	if want := "far: 0#echo: no such worker reachable from your link  [2J"; re.Text != want {
		t.Fatalf("text %q, want %q", re.Text, want)
	}
	// A late notice for that request, while the next waits: stale.
	done, ret2 := request()
	if err := a.f.deliverNotice(backend, ret, "late"); err != nil {
		t.Fatal(err)
	}
	if err := a.f.deliver(backend, ret2.String(), "", "answer"); err != nil {
		t.Fatal(err)
	}
	r = <-done
	if r.err != nil || string(r.m.Payload()) != "answer" {
		t.Fatalf("Request: %v", r.err)
	}
	r.m.Release()
	if st := a.n.Stats(); st.StaleReplies != 1 {
		t.Fatalf("StaleReplies = %d", st.StaleReplies)
	}
	// Receive returns a notice as a *RefusedError too.
	if err := a.f.deliverNotice(backend, wire.MustParseRoute("hop => app"), "why"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.app.Receive(wait); !errors.As(err, &re) || re.Text != "why" {
		t.Fatalf("Receive: %v", err)
	}
}
