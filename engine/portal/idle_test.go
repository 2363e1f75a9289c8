package portal_test

import (
	"io"
	"net"
	"runtime"
	"testing"
)

// An idle session holds no buffer: its reader waits in the poller, its
// writer is not running. Measured over 1000 idle sessions (100 under
// -short or -race): heap and stacks of the whole process (inlet and
// outlet, the test's clients and the target server included) grow by
// less than 16 KiB per side of a session.
func TestIdleSessionMemory(t *testing.T) {
	sessions := 1000
	if testing.Short() || raceOn {
		sessions = 100
	}
	srv := newServer(t, echo)
	p := newPair(t, srv.addr(), pairConfig{})
	warm := p.dial(t) // the first session warms pools and the node connection
	roundTrip(t, warm)
	warm.Close()
	eventually(t, "warm-up closed", func() bool { return p.inlet.Stats().Open == 0 && p.outlet.Stats().Open == 0 })

	before := memInUse()
	conns := make([]*net.TCPConn, sessions)
	for i := range conns {
		conns[i] = p.dial(t)
		defer conns[i].Close()
		roundTrip(t, conns[i]) // open end to end, then idle
	}
	after := memInUse()
	per := float64(after-before) / float64(sessions)
	t.Logf("%d idle sessions: %.0f bytes each (both sides, clients and target server included)", sessions, per)
	if per > 2*16<<10 {
		t.Fatalf("%.0f bytes per idle session, want under %d", per, 2*16<<10)
	}
}

func roundTrip(t *testing.T, c *net.TCPConn) {
	t.Helper()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
}

// memInUse is the heap and goroutine stacks in use after a collection.
func memInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}
