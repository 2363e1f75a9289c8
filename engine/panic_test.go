package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hopwire/hopwire/wire"
)

// panicNode is newNode for tests where a broken engine hangs in Close:
// the cleanup gives up after wait instead of hanging the test binary.
func panicNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeWithin(t, n) })
	return n
}

// closeWithin closes n, failing t if that takes longer than wait or
// leaves a message unreleased.
func closeWithin(t *testing.T, n *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatalf("Close did not return: %v", err)
	}
	if live := n.Pool().Live(); live != 0 {
		t.Errorf("%d messages not released after Close", live)
	}
}

// bomb panics on every message, after telling the test on which stack.
type bomb struct {
	stacks chan string
	down   chan struct{} // closed if Shutdown is called
}

func newBomb() *bomb { return &bomb{stacks: make(chan string, 4), down: make(chan struct{})} }

func (b *bomb) HandleMessage(ctx *Context, m *wire.Message) error {
	b.stacks <- string(debug.Stack())
	panic("boom: " + string(m.Payload()))
}

func (b *bomb) Shutdown(*Context) { close(b.down) }

// ran reports whether the function named (say "(*loop).borrow") ran the
// handler whose stack is given.
func ran(stack, fn string) bool { return strings.Contains(stack, "engine."+fn+"(") }

// records keeps the log records of Info level and above.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *records) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *records) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *records) WithGroup(string) slog.Handler                { return h }

func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}

// panics returns the attributes of each "worker panicked" record.
func (h *records) panics() []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]string
	for _, r := range h.recs {
		if !strings.HasPrefix(r.Message, "worker panicked") {
			continue
		}
		attrs := map[string]string{"level": r.Level.String()}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		out = append(out, attrs)
	}
	return out
}

func receive(t *testing.T, app *App) string {
	t.Helper()
	r, err := app.Receive(wait)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	return string(r.Payload())
}

func request(t *testing.T, app *App, route, payload string) string {
	t.Helper()
	if err := app.Send(wire.MustParseRoute(route), []byte(payload)); err != nil {
		t.Fatal(err)
	}
	return receive(t, app)
}

// A handler run by the loop's own goroutine panics. The panic stops that
// worker only: the rest of the batch it was in is dispatched (a message
// still queued for it is dropped as undeliverable), the other workers on
// the loop answer, its address is gone, its Shutdown is not called, the
// panic is logged once, and Close returns.
func TestPanicOnTheLoopGoroutine(t *testing.T) {
	log := &records{}
	n := panicNode(t, Config{Loops: 2, Logger: slog.New(log)})
	g, b := newGate(), newBomb()
	for _, w := range []struct {
		loop int
		w    Worker
		addr string
	}{{0, g, "gate"}, {0, b, "bomb"}, {0, Echo{}, "echo"}, {1, Hop{}, "hop"}} {
		if err := n.StartWorkerOn(w.loop, w.w, wire.LocalAddr(w.addr)); err != nil {
			t.Fatal(err)
		}
	}
	app := mustContext(t, n, "app")
	// Through a hop on loop 1: the gate then runs on a loop's goroutine
	// (loop 0's own, or loop 1's borrowing it at the end of its turn, or
	// loop 0's woken by loop 1 run by the app), not on the app's, which
	// queues behind it.
	if err := app.Send(wire.MustParseRoute("hop => gate"), nil); err != nil {
		t.Fatal(err)
	}
	<-g.entered
	for _, s := range []struct{ to, payload string }{{"bomb", "first"}, {"echo", "after"}, {"bomb", "second"}} {
		if err := app.Send(wire.MustParseRoute(s.to), []byte(s.payload)); err != nil {
			t.Fatalf("send to %s: %v", s.to, err)
		}
	}
	close(g.release)
	if got := receive(t, app); got != "after" {
		t.Fatalf("echo behind the panic in its batch: got %q", got)
	}
	if stack := <-b.stacks; !ran(stack, "(*loop).run") {
		t.Fatalf("the handler did not run on a loop's goroutine:\n%s", stack)
	}
	if got := request(t, app, "echo", "still here"); got != "still here" {
		t.Fatalf("echo on the same loop: got %q", got)
	}
	if s := n.Stats(); s.Panics != 1 || s.Undeliverable != 1 {
		t.Fatalf("stats %+v: want Panics 1 and the second message to the bomb Undeliverable", s)
	}
	err := app.Send(wire.MustParseRoute("bomb"), []byte("third"))
	var ae *AddressError
	if !errors.Is(err, ErrUnknownWorker) || !errors.As(err, &ae) || ae.Input != "bomb" {
		t.Fatalf("send to a worker that panicked: %v", err)
	}
	closeWithin(t, n)
	select {
	case <-b.down:
		t.Fatal("Shutdown was called on a worker whose handler panicked")
	default:
	}
	logged := log.panics()
	if len(logged) != 1 {
		t.Fatalf("logged %d panics, want 1: %v", len(logged), logged)
	}
	if l := logged[0]; l["level"] != "ERROR" || l["worker"] != "bomb" || l["panic"] != "boom: first" || !strings.Contains(l["stack"], "(*bomb).HandleMessage") {
		t.Fatalf("panic logged as %v", l)
	}
}

// An app goroutine that finds the loop parked runs the handler itself.
// The panic does not reach the app, and the loop is given back: it runs
// other work and the node closes.
func TestPanicInABorrowedLoop(t *testing.T) {
	n := panicNode(t, Config{Loops: 1})
	b := newBomb()
	mustStart(t, n, b, "bomb")
	mustStart(t, n, Echo{}, "echo")
	app := mustContext(t, n, "app")
	waitParked(t, n.loops[0])
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Errorf("the handler's panic reached the app's Send: %v", v)
			}
		}()
		if err := app.Send(wire.MustParseRoute("bomb"), []byte("borrowed")); err != nil {
			t.Errorf("send: %v", err)
		}
	}()
	if stack := <-b.stacks; !ran(stack, "(*loop).borrow") {
		t.Errorf("the app's goroutine did not run the handler:\n%s", stack)
	}
	if t.Failed() {
		closeWithin(t, n) // fails the test if the loop was left borrowed
		return
	}
	if got := request(t, app, "echo", "still here"); got != "still here" {
		t.Fatalf("echo on the same loop: got %q", got)
	}
	if err := app.Send(wire.MustParseRoute("bomb"), nil); !errors.Is(err, ErrUnknownWorker) {
		t.Fatalf("send to a worker that panicked: %v", err)
	}
	if s := n.Stats(); s.Panics != 1 {
		t.Fatalf("stats %+v: want Panics 1", s)
	}
	closeWithin(t, n)
}

// waitParked waits until l's goroutine has parked, so that the next
// off-loop sender borrows it.
func waitParked(t *testing.T, l *loop) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for l.state.Load() != stParked {
		if time.Now().After(deadline) {
			t.Fatal("the loop did not park")
		}
		time.Sleep(time.Millisecond)
	}
}

// A panic in a handler run from the loop-local queue (a same-loop send)
// stops that worker, and the local work queued behind it still runs.
func TestPanicInSameLoopDispatch(t *testing.T) {
	n := panicNode(t, Config{Loops: 1})
	b := newBomb()
	mustStart(t, n, b, "bomb")
	mustStart(t, n, Echo{}, "echo")
	// fan sends to the bomb, then passes its message on to the echo,
	// which replies to the app: both go through the local queue.
	bombed := make(chan error, 2)
	mustStart(t, n, WorkerFunc(func(ctx *Context, m *wire.Message) error {
		bombed <- ctx.Send(wire.MustParseRoute("bomb"), []byte("local"))
		if err := m.Redirect(wire.MustParseRoute("echo")); err != nil {
			return err
		}
		return ctx.Forward(m)
	}), "fan")
	app := mustContext(t, n, "app")
	for i := 0; i < 2; i++ {
		payload := fmt.Sprint("round ", i)
		if got := request(t, app, "fan", payload); got != payload {
			t.Fatalf("echo after the bomb: got %q, want %q", got, payload)
		}
	}
	if stack := <-b.stacks; !ran(stack, "(*loop).drainLocal") {
		t.Fatalf("the handler did not run from the local queue:\n%s", stack)
	}
	if err := <-bombed; err != nil {
		t.Fatalf("first send to the bomb: %v", err)
	}
	if err := <-bombed; !errors.Is(err, ErrUnknownWorker) {
		t.Fatalf("send to the bomb after it panicked: %v", err)
	}
	if s := n.Stats(); s.Panics != 1 || s.UnknownAddress != 1 {
		t.Fatalf("stats %+v: want Panics 1, UnknownAddress 1", s)
	}
}

// shutdownBomb's Shutdown panics.
type shutdownBomb struct{}

func (shutdownBomb) HandleMessage(ctx *Context, m *wire.Message) error { return ctx.Reply(m) }
func (shutdownBomb) Shutdown(*Context)                                 { panic("boom in Shutdown") }

// A Shutdown that panics neither kills its loop nor keeps StopWorker or
// Close from returning, and the other workers' Shutdown still runs.
func TestPanicInShutdown(t *testing.T) {
	n := panicNode(t, Config{Loops: 1})
	mustStart(t, n, shutdownBomb{}, "first")
	mustStart(t, n, shutdownBomb{}, "second")
	s := stopper{make(chan string, 1)}
	mustStart(t, n, s, "stopper")
	app := mustContext(t, n, "app")

	stopped := make(chan error, 1)
	go func() { stopped <- n.StopWorker(wire.LocalAddr("first")) }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("StopWorker did not return")
	}
	if got := request(t, app, "second", "still here"); got != "still here" {
		t.Fatalf("reply %q", got)
	}
	if s := n.Stats(); s.Panics != 1 {
		t.Fatalf("stats %+v: want Panics 1", s)
	}
	closeWithin(t, n)
	select {
	case <-s.stopped:
	default:
		t.Fatal("a Shutdown that panicked kept the next worker's from running")
	}
	if s := n.Stats(); s.Panics != 2 {
		t.Fatalf("stats %+v: want Panics 2", s)
	}
}

// The message a handler was given is released when it panics if it had
// not handed it on, and only once: one it handed on is not released
// again, nor one it released itself.
func TestPanicReleasesTheMessage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		handle func(ctx *Context, m *wire.Message)
		reply  bool
	}{
		{"owned", func(*Context, *wire.Message) {}, false},
		{"replied", func(ctx *Context, m *wire.Message) { ctx.Reply(m) }, true},
		{"released", func(_ *Context, m *wire.Message) { m.Release() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := panicNode(t, Config{Loops: 1})
			mustStart(t, n, WorkerFunc(func(ctx *Context, m *wire.Message) error {
				tc.handle(ctx, m)
				panic("boom")
			}), "bomb")
			mustStart(t, n, Echo{}, "echo")
			app := mustContext(t, n, "app")
			if err := app.Send(wire.MustParseRoute("bomb"), []byte(tc.name)); err != nil {
				t.Fatal(err)
			}
			if tc.reply {
				if got := receive(t, app); got != tc.name {
					t.Fatalf("reply %q", got)
				}
			}
			if got := request(t, app, "echo", "still here"); got != "still here" {
				t.Fatalf("echo after the panic: %q", got)
			}
			if s := n.Stats(); s.Panics != 1 {
				t.Fatalf("stats %+v: want Panics 1", s)
			}
			closeWithin(t, n) // and no message left live
		})
	}
}
