package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/hopwire/hopwire/wire"
)

// A program drives any transport through the node, by address type: a
// listener lets in what it is allowed to, a connection the node opened
// carries a route, and the node lists its listeners until they close.
func TestListenAndConnectThroughTheNode(t *testing.T) {
	n := newNode(t, Config{})
	f := newFakeTransport(t, n)
	mustStart(t, n, Echo{}, "echo")

	l, err := n.Listen(fakeType, "front")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Addr().String(); got != "9#front" {
		t.Fatalf("listener address %s, want 9#front", got)
	}
	if err := n.Allow(l.Flow(), wire.LocalAddr("echo")); err != nil {
		t.Fatal(err)
	}
	if ls := n.Listeners(); len(ls) != 1 || ls[0].Addr != l.Addr() || ls[0].Flow != l.Flow() || ls[0].Type != fakeType {
		t.Fatalf("Listeners() = %+v", ls)
	}
	c := f.accept("peer", l.Flow())
	if err := f.deliver(c, "echo", "", "ping"); err != nil {
		t.Fatal(err)
	}
	if got := f.expect("peer"); got != "ping" {
		t.Fatalf("echo through the listener: %q", got)
	}

	// A connection the node opened: the app's route goes out over it and
	// the reply comes back.
	conn, err := n.Connect(fakeType, "far")
	if err != nil {
		t.Fatal(err)
	}
	app := mustContext(t, n, "app")
	if err := app.Send(wire.Route{conn.Addr(), wire.LocalAddr("echo")}, []byte("out")); err != nil {
		t.Fatal(err)
	}
	if got := f.expect("far"); got != "out" {
		t.Fatalf("over the connection: %q", got)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-conn.Done():
	default:
		t.Fatal("Done not closed after Close")
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if ls := n.Listeners(); len(ls) != 0 {
		t.Fatalf("Listeners() after Close = %+v", ls)
	}
}

// Listen and Connect for an address type the node has no transport for
// say so, naming the type.
func TestNoTransportForType(t *testing.T) {
	n := newNode(t, Config{})
	_, lerr := n.Listen(wire.UDP, "127.0.0.1:0")
	_, cerr := n.Connect(wire.TCP, "127.0.0.1:1")
	for _, err := range []error{lerr, cerr} {
		var te *TransportError
		if !errors.Is(err, ErrNoTransport) || !errors.As(err, &te) || !strings.Contains(err.Error(), "no transport for") {
			t.Fatalf("no transport: %v", err)
		}
	}
	if !strings.Contains(lerr.Error(), "UDP") || !strings.Contains(cerr.Error(), "TCP") {
		t.Fatalf("errors do not name the type: %v / %v", lerr, cerr)
	}
}

// Worker addresses are wire.Addresses, checked where they are used: an
// empty or non-local one is refused with an *AddressError.
func TestWorkerAddressChecked(t *testing.T) {
	n := newNode(t, Config{})
	for _, a := range []wire.Address{wire.LocalAddr(""), wire.LocalAddr(strings.Repeat("x", wire.MaxAddressLen+1)), wire.MustParseAddress("1#127.0.0.1:1")} {
		err := n.StartWorker(Echo{}, a)
		var ae *AddressError
		if !errors.As(err, &ae) {
			t.Fatalf("StartWorker(%q): %v", a.String(), err)
		}
	}
	if err := n.StartWorker(Echo{}); !errors.Is(err, ErrNoAddress) {
		t.Fatalf("StartWorker with no address: %v", err)
	}
}
