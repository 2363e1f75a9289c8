package tcp

import (
	"errors"
	"strings"
	"testing"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/internal/nodetest"
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
