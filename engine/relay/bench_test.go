package relay_test

import (
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine/relay"
)

// BenchmarkRecovery measures, with default relay settings, how long after
// its relay node stops traffic through the relay flows again: the relay
// node closes and a new one starts on the same address at once; the
// clock runs from the close to the first reply through forward_to_n3
// from a client connected to the new relay node.
func BenchmarkRecovery(b *testing.B) {
	n2 := newRelayNode(b, "127.0.0.1:0")
	at := n2.l.Addr()
	n3 := newRegistrant(b)
	create(b, n3, relay.Config{Name: "n3", At: at})
	var total time.Duration
	for b.Loop() {
		t0 := time.Now()
		n2.Close()
		n2 = newRelayNode(b, at.Value())
		n1 := newClient(b, n2)
		for deadline := t0.Add(wait); ; {
			if _, _, err := n1.requestWithin("forward_to_n3 => uppercase", "x", 100*time.Millisecond); err == nil {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("traffic did not flow again")
			}
			time.Sleep(time.Millisecond)
		}
		total += time.Since(t0)
		n1.Close()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/recovery")
	b.ReportMetric(0, "ns/op")
}
