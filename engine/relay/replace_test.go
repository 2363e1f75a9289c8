package relay_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/engine/relay"
	"github.com/hopwire/hopwire/wire"
)

// handRegistrant registers by hand, from an app context, over
// connections of its own: the protocol without the Relay's machinery.
type handRegistrant struct {
	node *engine.Node
	app  *engine.App
	id   uint64
}

// register sends a registration for name over conn and returns the
// answer.
func (h *handRegistrant) register(t *testing.T, conn engine.Conn, name string, secret []byte) (ok bool, forward string, gotSecret []byte, text string) {
	t.Helper()
	h.id++
	if err := h.app.Send(wire.Route{conn.Addr(), wire.LocalAddr(relay.DefaultServiceName)}, relay.AppendRegister(nil, h.id, name, secret)); err != nil {
		t.Fatal(err)
	}
	m, err := h.app.Receive(wait)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	id, ok, forward, gotSecret, text, err := relay.ParseAnswer(m.Payload())
	if err != nil || id != h.id {
		t.Fatalf("answer: %v, id %d want %d", err, id, h.id)
	}
	return ok, forward, gotSecret, text
}

// arrives sends through forward_to_x from n1 and returns the flow of the
// link it reached the registrant over.
func (h *handRegistrant) arrives(t *testing.T, n1 *client) uint64 {
	t.Helper()
	if err := n1.app.Send(wire.Route{n1.conn.Addr(), wire.LocalAddr("forward_to_x")}, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	m, err := h.app.Receive(wait)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	return m.Meta().Flow
}

func (h *handRegistrant) connect(t *testing.T, n2 *relayNode) engine.Conn {
	t.Helper()
	c, err := h.node.Connect(wire.TCP, n2.l.Addr().Value())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReRegistrationReplacesAtOnce(t *testing.T) {
	n2 := newRelayNode(t, "127.0.0.1:0")
	n3 := newNode(t, "n3")
	app, err := n3.NewContext(wire.LocalAddr("reg"))
	if err != nil {
		t.Fatal(err)
	}
	h := &handRegistrant{node: n3, app: app}
	n1 := newClient(t, n2)

	c1 := h.connect(t, n2)
	ok, fwd, secret, text := h.register(t, c1, "x", nil)
	if !ok || fwd != "forward_to_x" || len(secret) != 16 {
		t.Fatalf("first registration: %v %q %x %q", ok, fwd, secret, text)
	}
	if got := h.arrives(t, n1); got != c1.Flow() {
		t.Fatalf("arrived over flow %d, want c1's %d", got, c1.Flow())
	}

	// The registrant comes back over a new connection while the old one
	// is still up (as after a half-open drop): with its secret, the route
	// is replaced at once.
	c2 := h.connect(t, n2)
	ok, fwd, again, text := h.register(t, c2, "x", secret)
	if !ok || fwd != "forward_to_x" || !bytes.Equal(again, secret) {
		t.Fatalf("re-registration: %v %q %x %q", ok, fwd, again, text)
	}
	if got := h.arrives(t, n1); got != c2.Flow() {
		t.Fatalf("arrived over flow %d, want c2's %d", got, c2.Flow())
	}

	// Without the secret, or with another, the live name is refused.
	c3 := h.connect(t, n2)
	for _, s := range [][]byte{nil, bytes.Repeat([]byte{1}, 16)} {
		if ok, _, _, text := h.register(t, c3, "x", s); ok || text != "relay name x is taken" {
			t.Fatalf("claim with secret %x: %v %q", s, ok, text)
		}
	}

	// The old connection going down does not take the new registration.
	links := len(n2.Links())
	c1.Close()
	eventually(t, "n2 to see c1 close", func() bool { return len(n2.Links()) == links-1 })
	if got := h.arrives(t, n1); got != c2.Flow() {
		t.Fatalf("after c1 closed: arrived over flow %d, want c2's %d", got, c2.Flow())
	}
	if rs := n2.svc.Relays(); len(rs) != 1 {
		t.Fatalf("relays %+v", rs)
	}

	// The new one going down frees the name: c3 takes it, secret or not.
	c2.Close()
	eventually(t, "forward_to_x to go", func() bool { return len(n2.svc.Relays()) == 0 })
	if ok, _, s3, text := h.register(t, c3, "x", nil); !ok || bytes.Equal(s3, secret) {
		t.Fatalf("taking the freed name: %v %q", ok, text)
	}
}

func TestServiceLimits(t *testing.T) {
	n2 := newNode(t, "n2")
	l, err := n2.Listen(wire.TCP, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := relay.NewService(n2, relay.ServiceConfig{MaxRelays: 3, MaxPerLink: 2})
	if err != nil {
		t.Fatal(err)
	}
	rn := &relayNode{n2, l, svc}
	n3 := newNode(t, "n3")
	app, err := n3.NewContext(wire.LocalAddr("reg"))
	if err != nil {
		t.Fatal(err)
	}
	h := &handRegistrant{node: n3, app: app}
	c1, c2 := h.connect(t, rn), h.connect(t, rn)
	for _, name := range []string{"a", "b"} {
		if ok, _, _, text := h.register(t, c1, name, nil); !ok {
			t.Fatalf("%s: %q", name, text)
		}
	}
	if ok, _, _, text := h.register(t, c1, "c", nil); ok || text != "this connection has registered its limit of relays" {
		t.Fatalf("third over one link: %v %q", ok, text)
	}
	if ok, _, _, text := h.register(t, c2, "c", nil); !ok {
		t.Fatalf("c over another link: %q", text)
	}
	if ok, _, _, text := h.register(t, c2, "d", nil); ok || text != "the relay service has its limit of relays" {
		t.Fatalf("fourth: %v %q", ok, text)
	}
	if ok, _, _, text := h.register(t, c2, "bad name", nil); ok || text == "" {
		t.Fatalf("bad name: %v %q", ok, text)
	}
	// Garbage is answered too, so a sender is not left waiting.
	if err := app.Send(wire.Route{c2.Addr(), svc.Address()}, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	m, err := app.Receive(wait)
	if err != nil {
		t.Fatal(err)
	}
	_, ok, _, _, text, err := relay.ParseAnswer(m.Payload())
	m.Release()
	if err != nil || ok || text != relay.ErrBadRequest.Error() {
		t.Fatalf("garbage: %v %v %q", err, ok, text)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"forward_to_a", "forward_to_b", "forward_to_c", relay.DefaultServiceName} {
		if err := n2.StopWorker(wire.LocalAddr(name)); !errors.Is(err, engine.ErrUnknownWorker) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
}
