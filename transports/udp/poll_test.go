package udp

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/internal/nodetest"
	"github.com/hopwire/hopwire/wire"
)

// longPoll outlasts any gap in these tests: once a socket's loop is
// awake, it reads every datagram itself until the socket closes.
const longPoll = time.Minute

// gnet reads the datagram that wakes the loop; busy polling reads the
// rest, in order, each delivered like gnet's, and counts them.
func TestBusyPollReadsWhatComesNext(t *testing.T) {
	n := newTestNode(t, "n", Config{BusyPoll: longPoll})
	var mu sync.Mutex
	var got []byte
	n.start(t, engine.WorkerFunc(func(_ *engine.Context, m *wire.Message) error {
		mu.Lock()
		got = append(got, m.Payload()[0])
		mu.Unlock()
		return nil
	}), "sink")
	s := n.bind(t, "sink")
	c := rawConn(t)
	const k = 20
	for i := 0; i < k; i++ {
		sendRaw(t, c, s.Addr().Value(), encode(t, n.Pool(), "sink", "app", []byte{byte(i)}))
	}
	waitFor(t, "every datagram delivered", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == k })
	for i, b := range got {
		if int(b) != i {
			t.Fatalf("payloads in the order %v", got)
		}
	}
	// The first woke the loop and was gnet's; nothing since let it sleep.
	// (Polled is brought up to date once the socket is found empty.)
	waitFor(t, "the polled datagrams counted", func() bool { return n.tr.Stats().Polled >= k-1 })
	if st := n.tr.Stats(); st.Polled != k-1 || st.BadDatagram != 0 {
		t.Fatalf("stats %+v, want Polled %d", st, k-1)
	}
	// What busy polling reads is checked like the rest.
	sendRaw(t, c, s.Addr().Value(), []byte("garbage"))
	waitFor(t, "the bad datagram counted", func() bool { return n.tr.Stats().BadDatagram == 1 })
	waitFor(t, "the polled datagrams counted", func() bool { return n.tr.Stats().Polled >= k })
	if st := n.tr.Stats(); st.Polled != k {
		t.Fatalf("stats %+v, want Polled %d", st, k)
	}
}

// With both ends polling, a ping-pong's datagrams are all read by the
// package itself: gnet's per-datagram allocations are gone.
func TestBusyPollRoundTripsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	server := newTestNode(t, "server", Config{BusyPoll: longPoll})
	server.start(t, engine.Echo{}, "echoer")
	s := server.bind(t, "echoer")
	client := newTestNode(t, "client", Config{BusyPoll: longPoll})
	p := nodetest.NewPinger(wire.MustParseRoute(s.Addr().String() + " => echoer"))
	client.start(t, p, "pinger")
	app := client.app(t, "kick")
	kickRoute := wire.MustParseRoute("pinger")
	timer := time.NewTimer(wait)
	defer timer.Stop()
	kick := func(rounds int) {
		p.Rounds = rounds
		if err := app.Send(kickRoute, make([]byte, 64)); err != nil {
			t.Fatal(err)
		}
		timer.Reset(wait)
		select {
		case <-p.Done:
		case <-timer.C:
			t.Fatalf("no reply: lost datagram? client %+v server %+v", client.tr.Stats(), server.tr.Stats())
		}
	}
	kick(100) // learn the peers, warm the pools, wake both loops

	const rounds = 1000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	kick(rounds)
	runtime.ReadMemStats(&after)
	// The kick itself allocates a little (the app's Send); per datagram
	// this must be far below gnet's gnetReadAllocs.
	if per := float64(after.Mallocs-before.Mallocs) / (2 * rounds); per >= 0.5 {
		t.Fatalf("%.2f allocations per datagram with busy polling (gnet's read: %d)", per, gnetReadAllocs)
	}
	if c, sv := client.tr.Stats().Polled, server.tr.Stats().Polled; c < rounds || sv < rounds {
		t.Fatalf("polled: client %d, server %d, want at least %d each", c, sv, rounds)
	}
}

// A socket that busy polls while datagrams keep coming still closes.
func TestBusyPollCloseUnderLoad(t *testing.T) {
	n := newTestNode(t, "n", Config{BusyPoll: longPoll})
	var sunk atomic.Int64
	n.start(t, engine.WorkerFunc(func(*engine.Context, *wire.Message) error { sunk.Add(1); return nil }), "sink")
	s := n.bind(t, "sink")
	c := rawConn(t)
	msg := encode(t, n.Pool(), "sink", "app", make([]byte, 64))
	to, err := net.ResolveUDPAddr("udp", s.Addr().Value())
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 10_000_000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = c.WriteToUDP(msg, to)
		}
	}()
	waitFor(t, "the socket polling", func() bool { return n.tr.Stats().Polled > 100 })
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(wait):
		t.Fatal("Close did not return while datagrams kept coming")
	}
	close(stop)
	wg.Wait()
}
