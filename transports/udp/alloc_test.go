package udp

import (
	"testing"

	"github.com/hopwire/hopwire/wire"
)

// Send allocates nothing once the peer is known: the address is looked
// up without a parse, the datagram leaves with one raw sendto. (The
// receiving side is a raw socket that never reads, so no gnet loop runs
// and the count is the sender's alone; gnet's own receive path allocates
// a few small objects per datagram, see BenchmarkUDPHopRoundTrip.)
func TestSendDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	n := newTestNode(t, "n", Config{})
	to := rawConn(t).LocalAddr().String()
	onward := wire.MustParseRoute("2#" + to + " => echoer")
	ret := wire.MustParseRoute("app")
	payload := make([]byte, 64)
	send := func() {
		m, err := n.Pool().Build(onward, ret, payload)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.tr.Send(m); err != nil && err != ErrBusy {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		send() // learn the peer, warm the pool
	}
	if a := testing.AllocsPerRun(1000, send); a != 0 {
		t.Fatalf("%v allocations per Send", a)
	}
}
