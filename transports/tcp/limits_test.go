package tcp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/internal/nodetest"
	"github.com/hopwire/hopwire/transports/internal/ratelog"
	"github.com/hopwire/hopwire/wire"
)

// loggedNode is newTestNode with its log kept in a LogCapture.
func loggedNode(t *testing.T, name string, cfg Config) (*testNode, *nodetest.LogCapture) {
	t.Helper()
	logs := nodetest.NewLogCapture()
	n := nodetest.NewNode(t, engine.Config{Name: name, Loops: 2, Logger: slog.New(logs)})
	tr, err := New(n, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testNode{n, tr}, logs
}

// pingWhile keeps a request-reply going from a good client to l's echoer
// with payloads of size bytes until stop is closed, and returns how many
// went through; a failed request fails the test.
func pingWhile(t *testing.T, l engine.Listener, size int, stop chan struct{}) func() int64 {
	t.Helper()
	client := newTestNode(t, "good client", Config{})
	app := client.app(t, "app")
	route := wire.MustParseRoute(l.Addr().String() + " => echoer")
	payload := make([]byte, size)
	if r, err := app.Request(route, payload, wait); err != nil {
		t.Fatal(err)
	} else {
		r.Release()
	}
	var pings atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 1_000_000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r, err := app.Request(route, payload, wait)
			if err != nil {
				t.Errorf("ping %d: %v", i, err)
				return
			}
			if len(r.Payload()) != size {
				t.Errorf("ping %d: reply of %d bytes", i, len(r.Payload()))
			}
			r.Release()
			pings.Add(1)
		}
	}()
	return func() int64 {
		wg.Wait()
		if s := client.tr.Stats(); s.Dialed != 1 || s.Open != 1 {
			t.Errorf("the good client's connection was disturbed: %+v", s)
		}
		return pings.Load()
	}
}

// heapInUse is the heap's live bytes after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Peers that send a 16 MiB length prefix and a few bytes hold a little
// each, not the 16 MiB they declared.
func TestLengthPrefixAloneReservesLittle(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	l := server.listen(t)
	const peers, declared = 50, 16 << 20
	heap0 := heapInUse()
	start := binary.BigEndian.AppendUint32(nil, declared)
	start = append(start, 1, 0, 0, 6) // the start of a header
	for i := 0; i < peers; i++ {
		nc := rawDial(t, l.Addr().Value(), nil)
		if _, err := nc.Write(start); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every peer's frame to be started", func() bool { return server.Pool().Live() == peers })
	s := server.tr.Stats()
	heap1 := heapInUse()
	held := heap1 - min(heap0, heap1)
	t.Logf("%d peers that declared %d MiB each: %d KiB pending, heap grew by %d KiB", peers, declared>>20, s.PendingBytes>>10, held>>10)
	if s.PendingBytes > peers*minFill || s.PendingBytes < peers {
		t.Fatalf("%d bytes pending for %d peers, want at most %d", s.PendingBytes, peers, peers*minFill)
	}
	// The heap says the same: the buffers are 64 KiB each, not 32 MiB.
	if held > peers*declared/16 {
		t.Fatalf("the heap grew by %d MiB for %d peers", held>>20, peers)
	}
}

// A peer that sends half a frame, or half a length prefix, and goes
// quiet is disconnected after FrameTimeout and counted, while a good
// client whose frames (256 KiB) come in several reads goes on.
func TestIncompleteFrameTimesOut(t *testing.T) {
	const timeout = 200 * time.Millisecond
	server := newTestNode(t, "server", Config{FrameTimeout: timeout})
	server.start(t, engine.Echo{}, "echoer")
	l := server.listen(t, "echoer")
	stop := make(chan struct{})
	pings := pingWhile(t, l, 256<<10, stop)
	began := time.Now()

	half := rawDial(t, l.Addr().Value(), nil)
	f := frame(encoded(t, "echoer", "me", string(make([]byte, 1000))))
	if _, err := half.Write(f[:len(f)/2]); err != nil {
		t.Fatal(err)
	}
	prefix := rawDial(t, l.Addr().Value(), nil)
	if _, err := prefix.Write(f[:2]); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, half)
	waitClosed(t, prefix)
	eventually(t, "FrameTimeouts", func() bool { return server.tr.Stats().FrameTimeouts == 2 })
	// Keep the good client going a while longer: its frames, each split
	// over reads, never time out however long the connection lasts.
	for time.Since(began) < 4*timeout {
		time.Sleep(timeout / 4)
	}
	close(stop)
	n := pings()
	s := server.tr.Stats()
	if n == 0 || s.FrameTimeouts != 2 || s.Truncated != 0 || s.PendingBytes != 0 {
		t.Fatalf("%d pings; server stats %+v", n, s)
	}
	t.Logf("%d pings of 256 KiB while two peers timed out", n)
}

// Peers whose incomplete frames together would pass MaxPendingBytes are
// closed and counted, whether their frame starts over the budget or
// grows past it; the budget is never passed, the peers within it keep
// their connections, and a good client goes on.
func TestPendingBudget(t *testing.T) {
	const budget = 3*minFill + 1000 // room for three frames started
	server := newTestNode(t, "server", Config{MaxPendingBytes: budget})
	server.start(t, engine.Echo{}, "echoer")
	l := server.listen(t, "echoer")
	stop := make(chan struct{})
	pings := pingWhile(t, l, 64, stop)

	// Each peer declares 4 MiB and sends part of it, one after the other.
	// Up to minFill bytes hold minFill; more grow the frame.
	declare := func(n int) []byte {
		return append(binary.BigEndian.AppendUint32(nil, 4<<20), make([]byte, n)...)
	}
	small, large := declare(40<<10), declare(300<<10)
	for i, step := range []struct {
		send            []byte
		started, closed int // frames held and peers closed, after the step
	}{
		{small, 1, 0},
		{small, 2, 0},
		{large, 2, 1}, // starts, then cannot grow past 2*minFill
		{small, 3, 1},
		{small, 3, 2}, // cannot start
	} {
		nc := rawDial(t, l.Addr().Value(), nil)
		go nc.Write(step.send) // the server may close it before it is all written
		eventually(t, "the server to read it or close it", func() bool {
			s := server.tr.Stats()
			if s.PendingBytes > budget {
				t.Fatalf("%d bytes pending, over the budget of %d", s.PendingBytes, budget)
			}
			return s.PendingBytes == int64(step.started*minFill) && s.OverBudget == uint64(step.closed)
		})
		if i == 2 || i == 4 {
			waitClosed(t, nc)
		}
	}
	close(stop)
	n := pings()
	s := server.tr.Stats()
	if n == 0 || s.OverBudget != 2 || s.Open != 3+1 {
		t.Fatalf("%d pings; server stats %+v", n, s)
	}
	t.Logf("2 of 5 peers closed over the budget, %d KiB pending, %d pings meanwhile", s.PendingBytes>>10, n)
}

// A listener with MaxConns 4 closes a 5th connection at once and counts
// it; the 4 keep working, and when one goes, a new one is let in.
func TestConnectionCap(t *testing.T) {
	server := newTestNode(t, "server", Config{MaxConns: 4})
	server.start(t, engine.Echo{}, "echoer")
	l := server.listen(t, "echoer")
	var conns []net.Conn
	for i := 0; i < 4; i++ {
		conns = append(conns, rawDial(t, l.Addr().Value(), nil))
	}
	fifth, err := net.DialTimeout("tcp", l.Addr().Value(), wait)
	if err != nil {
		t.Fatal(err)
	}
	defer fifth.Close()
	fifth.SetReadDeadline(time.Now().Add(wait))
	if n, err := io.Copy(io.Discard, fifth); n != 0 || err != nil {
		t.Fatalf("the 5th connection read %d bytes (%v): it was served", n, err)
	}
	if s := server.tr.Stats(); s.Rejected != 1 || s.Accepted != 4 || s.Open != 4 {
		t.Fatalf("server stats %+v", s)
	}
	echo := func(nc net.Conn, payload string) {
		t.Helper()
		if _, err := nc.Write(frame(encoded(t, "echoer", "me", payload))); err != nil {
			t.Fatal(err)
		}
		m, err := readMessage(nc)
		if err != nil {
			t.Fatal(err)
		}
		m.Release()
	}
	for _, nc := range conns {
		echo(nc, "still served")
	}
	conns[0].Close()
	eventually(t, "the server to see a connection go", func() bool { return server.tr.Stats().Open == 3 })
	echo(rawDial(t, l.Addr().Value(), nil), "let in")
}

// The accept loop waits longer after each failed accept, up to the
// ceiling, and starts over after a success.
func TestNextBackoff(t *testing.T) {
	var got []time.Duration
	for d, i := time.Duration(0), 0; i < 8; i++ {
		d = nextBackoff(d)
		got = append(got, d)
	}
	want := []time.Duration{5, 10, 20, 40, 80, 100, 100, 100}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("backoffs %v", got)
		}
	}
}

// Out of descriptors for real: with RLIMIT_NOFILE lowered so that one
// more descriptor fits, the test's dialing socket takes it, the
// connection waits in the backlog and every accept fails with EMFILE. The failures are counted and logged at most once a
// second, the accept loop backs off instead of spinning, and when
// descriptors are back the waiting connection is served.
func TestAcceptErrorsBackOff(t *testing.T) {
	server, logs := loggedNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echoer")
	l := server.listen(t, "echoer")

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	restore := sync.OnceFunc(func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Errorf("restoring RLIMIT_NOFILE: %v", err)
		}
	})
	t.Cleanup(restore)
	// A new descriptor takes the lowest free number and must be under
	// the limit: room for the dialing socket and nothing else, so the
	// accept gets EMFILE. No other test runs meanwhile (none is
	// parallel), and the server's loops and workers open nothing.
	free, err := syscall.Dup(0)
	if err != nil {
		t.Skipf("dup: %v", err)
	}
	syscall.Close(free)
	low := lim
	low.Cur = uint64(free) + 1
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	began := time.Now()
	nc, err := net.DialTimeout("tcp", l.Addr().Value(), wait)
	if err != nil {
		restore()
		if errors.Is(err, syscall.EMFILE) {
			t.Skip("another descriptor was opened meanwhile: cannot provoke EMFILE in the accept loop")
		}
		t.Fatal(err)
	}
	defer nc.Close()
	eventually(t, "accept errors", func() bool { return server.tr.Stats().AcceptErrors >= 5 })
	restore()
	elapsed := time.Since(began)
	errs := server.tr.Stats().AcceptErrors

	// Served now: the hello, then an echo.
	nc.SetDeadline(time.Now().Add(wait))
	var v [wire.HelloLen]byte
	if _, err := io.ReadFull(nc, v[:]); err != nil {
		t.Fatalf("server's hello after the descriptors came back: %v %v", v, err)
	}
	if _, err := nc.Write(append(bytes.Clone(goodHello), frame(encoded(t, "echoer", "me", "back"))...)); err != nil {
		t.Fatal(err)
	}
	var pre [4]byte
	if _, err := io.ReadFull(nc, pre[:]); err != nil {
		t.Fatal(err)
	}
	// Backing off, the loop tried at most once per minAcceptBackoff
	// (spinning, it fails hundreds of thousands of times a second).
	if limit := uint64(elapsed/minAcceptBackoff) + 2; errs > limit {
		t.Fatalf("%d failed accepts in %v: no backoff (at most %d)", errs, elapsed, limit)
	}
	lines := logs.Lines(func(l nodetest.LogLine) bool { return l.Msg == "tcp: accept failed; backing off" })
	if elapsed := time.Since(began); len(lines) == 0 || len(lines) > 1+int(elapsed/ratelog.Every) {
		t.Fatalf("%d log lines for %d failed accepts in %v", len(lines), errs, elapsed)
	}
	t.Logf("%d failed accepts in %v, %d logged: %v", errs, elapsed, len(lines), lines[0].Attrs["err"])
}

// Many bad connections log a line or so per cause, not one each: bad
// version bytes, connections over MaxConns, messages access control
// denies. Every one is counted.
func TestNetworkLogsRateLimited(t *testing.T) {
	server, logs := loggedNode(t, "server", Config{MaxConns: 2})
	server.start(t, engine.Echo{}, "echoer")
	l := server.listen(t) // nothing allowed: every message is denied
	began := time.Now()
	const bad = 20
	for i := 0; i < bad; i++ {
		nc := rawDial(t, l.Addr().Value(), []byte{1})
		waitClosed(t, nc)
	}
	eventually(t, "the connections to close", func() bool { return server.tr.Stats().Open == 0 })
	for i := 0; i < bad; i++ {
		nc := rawDial(t, l.Addr().Value(), nil)
		if _, err := nc.Write(frame(encoded(t, "echoer", "me", "denied"))); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the denial", func() bool { return server.tr.Stats().Denied == uint64(i+1) })
		nc.Close()
		eventually(t, "the connection to close", func() bool { return server.tr.Stats().Open == 0 })
	}
	for i := 0; i < 2; i++ {
		rawDial(t, l.Addr().Value(), nil)
	}
	for i := 0; i < bad; i++ {
		nc, err := net.DialTimeout("tcp", l.Addr().Value(), wait)
		if err != nil {
			t.Fatal(err)
		}
		waitClosed(t, nc)
		nc.Close()
	}
	eventually(t, "the rejections", func() bool { return server.tr.Stats().Rejected == bad })
	elapsed := time.Since(began)

	s := server.tr.Stats()
	if s.BadVersion != bad || s.Denied != bad || s.Rejected != bad {
		t.Fatalf("server stats %+v", s)
	}
	most := 1 + int(elapsed/ratelog.Every)
	for _, cause := range []struct {
		what string
		keep func(nodetest.LogLine) bool
	}{
		{"bad handshake", func(l nodetest.LogLine) bool {
			return l.Msg == "tcp: connection closed" && l.Attrs["reason"] == "bad handshake"
		}},
		{"denied", func(l nodetest.LogLine) bool { return strings.HasPrefix(l.Msg, "tcp: denied") }},
		{"over MaxConns", func(l nodetest.LogLine) bool {
			return l.Msg == "tcp: connection refused: the listener has Config.MaxConns open"
		}},
	} {
		lines := logs.Lines(cause.keep)
		if len(lines) == 0 || len(lines) > most {
			t.Errorf("%s: %d lines for %d events in %v, want 1 to %d", cause.what, len(lines), bad, elapsed, most)
		}
		for _, l := range lines {
			if l.Level != slog.LevelWarn || l.Attrs["suppressed"] == "" {
				t.Errorf("%s: line %+v", cause.what, l)
			}
		}
	}
}

// Peers that fill the pending-frame budget with frames they stop sending
// lose their place to a peer that is sending: the stalest are closed to
// make room (Stats.Evicted), and the sending peer's frame goes through.
// A length prefix alone holds nothing.
func TestStalledFramesYieldTheBudget(t *testing.T) {
	const budget = 3*minFill + 1000 // room for three frames started
	server := newTestNode(t, "server", Config{MaxPendingBytes: budget})
	server.start(t, engine.Echo{}, "echoer")
	l := server.listen(t, "echoer")
	for i := 0; i < 20; i++ { // prefixes alone
		nc := rawDial(t, l.Addr().Value(), nil)
		if _, err := nc.Write(binary.BigEndian.AppendUint32(nil, 16<<20)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ { // frames started, then nothing
		nc := rawDial(t, l.Addr().Value(), nil)
		if _, err := nc.Write(append(binary.BigEndian.AppendUint32(nil, 4<<20), make([]byte, 1000)...)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "three frames holding the budget", func() bool { return server.tr.Stats().PendingBytes == 3*minFill })
	time.Sleep(stallEvict + 100*time.Millisecond) // let them go stale

	// A peer that sends a frame in two parts needs room for it.
	good := rawDial(t, l.Addr().Value(), nil)
	f := frame(encoded(t, "echoer", "me", string(make([]byte, 150<<10))))
	if _, err := good.Write(f[:100<<10]); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a stalled frame evicted", func() bool { return server.tr.Stats().Evicted >= 1 })
	if _, err := good.Write(f[100<<10:]); err != nil {
		t.Fatal(err)
	}
	good.SetReadDeadline(time.Now().Add(wait))
	var pre [wire.FramePrefixLen]byte
	if _, err := io.ReadFull(good, pre[:]); err != nil {
		t.Fatalf("the sending peer's echo: %v; server %+v", err, server.tr.Stats())
	}
	if n, _ := wire.FrameLen(pre[:], wire.DefaultMaxFrame); n < 150<<10 {
		t.Fatalf("echo of %d bytes", n)
	}
	s := server.tr.Stats()
	if s.OverBudget != 0 || s.Evicted < 1 || s.Evicted > 3 {
		t.Fatalf("server stats %+v: want the stalled ones evicted, no one refused", s)
	}
}
