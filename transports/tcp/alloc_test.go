package tcp

import (
	"testing"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/internal/nodetest"
	"github.com/hopwire/hopwire/wire"
)

// A message forwarded over TCP allocates nothing once the pools are
// warm: round trips initiator -> middle (forwarder) -> responder (echo)
// and back, every hop of the way, on all three nodes.
func TestForwardedMessagesDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	responder := newTestNode(t, "responder", Config{})
	responder.start(t, engine.Echo{}, "echoer")
	lr := responder.listen(t, "echoer")
	middle := newTestNode(t, "middle", Config{})
	middle.start(t, engine.Forwarder{Route: wire.MustParseRoute(lr.Addr().String() + " => echoer")}, "forward_to_responder")
	lm := middle.listen(t, "forward_to_responder")
	initiator := newTestNode(t, "initiator", Config{})

	const rounds = 100
	p := &nodetest.Pinger{Route: wire.MustParseRoute(lm.Addr().String() + " => forward_to_responder"), Rounds: rounds, Hist: nodetest.NewHist(), Done: make(chan struct{}, 1)}
	initiator.start(t, p, "pinger")
	app := initiator.app(t, "app")
	kickRoute := wire.MustParseRoute("pinger")
	payload := make([]byte, 64)
	kick := func() {
		if err := app.Send(kickRoute, payload); err != nil {
			t.Fatal(err)
		}
		<-p.Done
	}
	for i := 0; i < 10; i++ {
		kick() // connect, warm the pools
	}
	// AllocsPerRun truncates: 0 means fewer than one allocation per run
	// of 100 round trips (each 4 TCP hops and 7 worker deliveries).
	if a := testing.AllocsPerRun(50, kick); a != 0 {
		t.Fatalf("%v allocations per %d round trips", a, rounds)
	}
}
