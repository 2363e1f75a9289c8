package tcp

import (
	"errors"
	"testing"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// One address across two transport hops, the middle node's public hop
// dialing the far node: where the middle node does not allow remote
// traffic to make it dial, the client's Request gets the middle node's
// refusal at once, not a timeout; where it does, the reply.
func TestRefusedDialReachesTheSender(t *testing.T) {
	far := newTestNode(t, "far", Config{})
	far.start(t, engine.Echo{}, "echo")
	lf := far.listen(t, "echo")

	route := func(lm engine.Listener) wire.Route {
		return wire.MustParseRoute(lm.Addr().String() + " => hop => " + lf.Addr().String() + " => echo")
	}
	client := newTestNode(t, "client", Config{})
	app := client.app(t, "app")

	closed := newTestNode(t, "middle", Config{})
	closed.start(t, engine.Hop{}, "hop")
	lc := closed.listen(t, "hop")
	_, err := app.Request(route(lc), []byte("hello"), wait)
	var re *engine.RefusedError
	if !errors.As(err, &re) || !errors.Is(err, engine.ErrDenied) {
		t.Fatalf("Request through a hop that may not dial: %v, want a *RefusedError", err)
	}
	if want := "middle: hop may not dial " + lf.Addr().String() + " (the node's allow-dial list does not allow it)"; re.Text != want {
		t.Fatalf("refused: %q, want %q", re.Text, want)
	}
	if s := closed.Stats(); s.NoticesSent != 1 || s.Denied != 1 {
		t.Fatalf("middle's stats %+v", s)
	}
	if s := closed.tr.Stats(); s.Dialed != 0 {
		t.Fatalf("the middle node dialed: %+v", s)
	}

	open := newTestNodeWith(t, engine.Config{Name: "open", Loops: 2, AllowDial: dialLoopback}, Config{})
	open.start(t, engine.Hop{}, "hop")
	lo := open.listen(t, "hop")
	r, err := app.Request(route(lo), []byte("hello"), wait)
	if err != nil {
		t.Fatalf("Request through a hop that may dial: %v", err)
	}
	if string(r.Payload()) != "hello" {
		t.Fatalf("reply %q", r.Payload())
	}
	r.Release()
}

// A worker the server does not have: a *RefusedError, and the connection
// carries on.
func TestRefusedUnknownWorker(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echo")
	l := server.listen(t, "echo")
	client := newTestNode(t, "client", Config{})
	app := client.app(t, "app")
	for i := 0; i < 2; i++ {
		_, err := app.Request(wire.MustParseRoute(l.Addr().String()+" => nosuch"), []byte("x"), wait)
		var re *engine.RefusedError
		if !errors.As(err, &re) || re.Text != "server: 0#nosuch: no such worker reachable from your link" {
			t.Fatalf("Request to an unknown worker: %v", err)
		}
		if got, _ := request(t, app, l.Addr().String()+" => echo", "still"); got != "still" {
			t.Fatalf("reply %q", got)
		}
	}
	if s := client.tr.Stats(); s.Dialed != 1 || s.Open != 1 || s.BadFrame != 0 {
		t.Fatalf("client stats %+v: one connection, never closed over a notice", s)
	}
}
