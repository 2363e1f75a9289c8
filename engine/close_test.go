package engine

import (
	"errors"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hopwire/hopwire/wire"
)

// A handler that does not return keeps its loop, and no engine can take a
// loop from a running handler: Close gives up after CloseTimeout, says
// which loop it waited for, and the node finishes stopping, releasing
// everything, once the handler returns. The other loop has stopped and
// released what it held by then. Under synctest the hour is not waited.
func TestCloseWithAHandlerThatSleeps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, err := NewNode(Config{Loops: 2})
		if err != nil {
			t.Fatal(err)
		}
		entered := make(chan struct{})
		var slept bool
		sleeper := WorkerFunc(func(*Context, *wire.Message) error {
			if !slept {
				slept = true
				close(entered)
				time.Sleep(time.Hour)
			}
			return nil
		})
		if err := n.StartWorkerOn(1, sleeper, wire.LocalAddr("sleeper")); err != nil {
			t.Fatal(err)
		}
		s := &countSink{}
		if err := n.StartWorkerOn(0, s, wire.LocalAddr("sink")); err != nil {
			t.Fatal(err)
		}
		app := mustContext(t, n, "app")
		go app.Send(wire.MustParseRoute("sleeper"), nil) // whoever runs it sleeps: not this goroutine
		<-entered
		for range 10 { // queued behind the sleeper, and on the other loop
			for _, to := range []string{"sleeper", "sink"} {
				if err := app.Send(wire.MustParseRoute(to), nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		start := time.Now()
		err = n.Close()
		if !errors.Is(err, ErrCloseTimeout) {
			t.Fatalf("Close with a handler asleep: %v, want ErrCloseTimeout", err)
		}
		if took := time.Since(start); took != CloseTimeout {
			t.Errorf("Close returned after %v, want %v", took, CloseTimeout)
		}
		t.Log(err)
		<-n.Done()
		if live := n.Pool().Live(); live != 0 {
			t.Fatalf("%d messages out of the pool once stopped", live)
		}
		if got, d := s.got.Load(), n.Stats().DroppedAtClose; got+int64(d) != 20 {
			t.Fatalf("sink got %d and %d were dropped at close, want 20 in all", got, d)
		}
	})
}

// Close from a node whose loops each wait on the other's full inbox, with
// sources that re-kick themselves on both: it returns in time and every
// message is accounted for.
func TestCloseUnderCrossedStreams(t *testing.T) {
	n, err := NewNode(Config{Loops: 2, MailboxSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	l := &ledger{}
	sinks := []*countSink{{}, {}}
	app := mustContext(t, n, "app")
	name := func(s string, i int) string { return s + strconv.Itoa(i) }
	for i := range 2 {
		o := 1 - i // every hop crosses to the other loop
		route := wire.Route{wire.LocalAddr(name("hop", o)), wire.LocalAddr(name("hop", i)), wire.LocalAddr(name("hop", o)), wire.LocalAddr(name("sink", o))}
		steps := []struct {
			w    Worker
			name string
		}{
			{Hop{}, name("hop", i)},
			{sinks[i], name("sink", i)},
			{&kickSource{route: route, left: 1 << 30, burst: 256, ledger: l, payload: make([]byte, 64)}, name("src", i)},
		}
		for _, s := range steps {
			if err := n.StartWorkerOn(i, s.w, wire.LocalAddr(s.name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, src := range []string{"src0", "src1"} {
		l.kicks.Add(1)
		if err := app.Send(wire.MustParseRoute(src), nil); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(wait); sinks[0].got.Load() < 10_000 || sinks[1].got.Load() < 10_000; {
		if time.Now().After(deadline) {
			t.Fatalf("sinks got %d and %d; stats %+v", sinks[0].got.Load(), sinks[1].got.Load(), n.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	closeInTime(t, n)
	if ok, why := l.settled(n, sinks[0].got.Load()+sinks[1].got.Load()); !ok {
		t.Fatal(why)
	}
}
