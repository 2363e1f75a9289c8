package tcp

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/internal/nodetest"
	"github.com/hopwire/hopwire/wire"
)

// The transport's errors speak the engine's vocabulary and say what to do.
func TestErrorTexts(t *testing.T) {
	if !errors.Is(ErrQueueFull, engine.ErrBackpressure) || !errors.Is(ErrClosed, engine.ErrClosed) || !errors.Is(ErrConnClosed, engine.ErrClosed) {
		t.Error("tcp's errors do not wrap the engine's")
	}
	n := newTestNode(t, "n", Config{})
	_, err := n.tr.Listen("127.0.0.1")
	if !errors.Is(err, ErrMissingPort) || !errors.Is(err, ErrBadAddress) || !strings.Contains(err.Error(), "no port") {
		t.Fatalf("Listen without a port: %v", err)
	}
	if _, err := n.tr.Connect("localhost"); !errors.Is(err, ErrMissingPort) {
		t.Fatalf("Connect without a port: %v", err)
	}
	second, err := New(n.Node, Config{})
	if second != nil || !errors.Is(err, engine.ErrTransportInUse) || !strings.Contains(err.Error(), "TCP") {
		t.Fatalf("a second tcp.New on one node: %v", err)
	}
	other := nodetest.NewNode(t, engine.Config{Name: "other"})
	tr, err := New(other, Config{})
	if err != nil {
		t.Fatal(err)
	}
	_ = tr.Close()
	if _, err := tr.Listen("127.0.0.1:0"); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Listen on a closed transport: %v", err)
	}
}

// A request over a dial that fails returns why at once, not a timeout.
func TestRequestOverAFailedDialSaysWhy(t *testing.T) {
	n := newTestNode(t, "client", Config{})
	closed := n.listen(t)
	addr := closed.Addr().Value()
	closed.Close() // nothing listens there now
	app := n.app(t, "app")
	began := time.Now()
	_, err := app.Request(wire.MustParseRoute("1#"+addr+" => echoer"), []byte("hi"), wait)
	// From Send, if the dial failed before the message was queued, or as
	// a bounce to the waiting Request: either way the dial's reason.
	var ce *ConnError
	if !errors.As(err, &ce) || ce.Peer != addr || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("request over a refused dial: %v", err)
	}
	t.Logf("after %v: %v", time.Since(began).Round(time.Millisecond), err)
}
