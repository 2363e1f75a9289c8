package tcp

import (
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// pingWhile keeps a request-reply going from a good client to l's echoer
// with payloads of size bytes until stop is closed, and returns how many
// went through; a failed request fails the test.
func pingWhile(t *testing.T, l *Listener, size int, stop chan struct{}) func() int64 {
	t.Helper()
	client := newTestNode(t, "good client", Config{})
	app := client.app(t, "app")
	route := wire.MustParseRoute("1#" + l.Addr() + " => echoer")
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
		nc := rawDial(t, l.Addr(), wire.Version)
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

	half := rawDial(t, l.Addr(), wire.Version)
	f := frame(encoded(t, "echoer", "me", string(make([]byte, 1000))))
	if _, err := half.Write(f[:len(f)/2]); err != nil {
		t.Fatal(err)
	}
	prefix := rawDial(t, l.Addr(), wire.Version)
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
		nc := rawDial(t, l.Addr(), wire.Version)
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
