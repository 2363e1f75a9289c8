package engine

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hopwire/hopwire/wire"
)

// One vocabulary: a layer's own errors match the engine's.
func TestErrorVocabulary(t *testing.T) {
	if !errors.Is(ErrMailboxFull, ErrBackpressure) || errors.Is(ErrMailboxFull, ErrClosed) {
		t.Error("ErrMailboxFull is an ErrBackpressure, not an ErrClosed")
	}
	if !errors.Is(ErrContextClosed, ErrClosed) {
		t.Error("ErrContextClosed is an ErrClosed")
	}
	var ae *AccessError
	if err := error(&AccessError{Addr: "x", Flow: 1}); !errors.Is(err, ErrDenied) || !errors.As(err, &ae) {
		t.Error("AccessError unwraps to ErrDenied")
	}
	// The standard library's words: a closed thing, a deadline.
	if !errors.Is(ErrContextClosed, net.ErrClosed) {
		t.Error("ErrContextClosed is a net.ErrClosed")
	}
	for _, err := range []error{ErrTimeout, ErrCloseTimeout, fmt.Errorf("wrapped: %w", ErrTimeout)} {
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("%v: not an os.ErrDeadlineExceeded, or not a net.Error whose Timeout is true", err)
		}
		if errors.Is(err, ErrClosed) {
			t.Errorf("%v is not an ErrClosed", err)
		}
	}
	if errors.Is(ErrTimeout, ErrCloseTimeout) {
		t.Error("ErrTimeout and ErrCloseTimeout are two errors")
	}
}

// Send, Forward and Request on a closed app context fail at once and say
// so, instead of sending from an address that no longer receives.
func TestSendOnAClosedContext(t *testing.T) {
	n := newNode(t, Config{})
	mustStart(t, n, Echo{}, "echo")
	app := mustContext(t, n, "app")
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	route := wire.MustParseRoute("echo")
	if err := app.Send(route, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send: %v", err)
	}
	if _, err := app.Request(route, nil, wait); !errors.Is(err, ErrClosed) {
		t.Fatalf("Request: %v", err)
	}
	m, err := n.Pool().Build(route, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Forward(m); !errors.Is(err, ErrClosed) {
		t.Fatalf("Forward: %v", err)
	}
	// The name is free again, and a second context cannot take a live one.
	again := mustContext(t, n, "app")
	if _, err := n.NewContext(wire.LocalAddr("app")); !errors.Is(err, ErrAddressInUse) {
		t.Fatalf("a second context at a live name: %v", err)
	}
	if err := again.Send(route, nil); err != nil {
		t.Fatal(err)
	}
}

// A second transport for an address type is refused with a reason a
// user can read.
func TestSecondTransportRefused(t *testing.T) {
	n := newNode(t, Config{})
	newFakeTransport(t, n)
	err := HostOf(n).AddTransport(&fakeTransport{})
	var te *TransportError
	if !errors.Is(err, ErrTransportInUse) || !errors.As(err, &te) || te.Type != fakeType || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("second transport: %v", err)
	}
}

// Request takes the reply to its own request: one that comes after its
// request timed out is not the answer to the next.
func TestRequestMatchesItsReply(t *testing.T) {
	n := newNode(t, Config{})
	mustStart(t, n, Echo{}, "echo")
	app := mustContext(t, n, "app")
	slow := mustContext(t, n, "slow") // answers when the test says
	if _, err := app.Request(wire.MustParseRoute("slow"), []byte("first"), 20*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("first request: %v", err)
	}
	m, err := slow.Receive(wait)
	if err != nil {
		t.Fatal(err)
	}
	if err := slow.Reply(m); err != nil { // the first request's reply, late
		t.Fatal(err)
	}
	r, err := app.Request(wire.MustParseRoute("echo"), []byte("second"), wait)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if string(r.Payload()) != "second" {
		t.Fatalf("the second request got %q", r.Payload())
	}
	eventuallyT(t, "the stale reply counted", func() bool { return n.Stats().StaleReplies == 1 })
}

// A bounce reaches the sender's Request if it is its own, and a plain
// Receive otherwise; one for an earlier request does not end a later one.
func TestBounce(t *testing.T) {
	n := newNode(t, Config{})
	f := newFakeTransport(t, n)
	app := mustContext(t, n, "app")
	released := make(chan struct{})
	go func() {
		defer close(released)
		s := <-f.out // the request left over 9#far: the far side drops it
		n.bounce(s.m, errors.New("far side gone"))
		s.m.Release()
	}()
	_, err := app.Request(wire.MustParseRoute("9#far => echo"), nil, wait)
	<-released // the bounce can reach app before the far side has let go of the request
	var be *BounceError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "far side gone") {
		t.Fatalf("Request: %v", err)
	}
	// A stale bounce (an earlier request's) does not end the next one.
	mustStart(t, n, Echo{}, "echo")
	stale, err := n.Pool().Build(wire.MustParseRoute("9#x"), wire.MustParseRoute("app => ~req-200"), nil)
	if err != nil {
		t.Fatal(err)
	}
	n.bounce(stale, errors.New("old news"))
	stale.Release()
	r, err := app.Request(wire.MustParseRoute("echo"), []byte("fresh"), wait)
	if err != nil {
		t.Fatalf("Request after a stale bounce: %v", err)
	}
	r.Release()
}
