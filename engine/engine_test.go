package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hopwire/hopwire/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 10 * time.Second // generous: only a broken engine takes this long

func newNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
		if live := n.Pool().Live(); live != 0 {
			t.Errorf("%d messages not released after Close", live)
		}
	})
	return n
}

func mustStart(t testing.TB, n *Node, w Worker, names ...string) {
	t.Helper()
	addrs := make([]wire.Address, len(names))
	for i, s := range names {
		addrs[i] = wire.LocalAddr(s)
	}
	if err := n.StartWorker(w, addrs...); err != nil {
		t.Fatal(err)
	}
}

func mustContext(t testing.TB, n *Node, addr string) *App {
	t.Helper()
	c, err := n.NewContext(wire.LocalAddr(addr))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type seen struct {
	onward, ret wire.Route
	payload     string
}

// recorder reports what each message looked like on arrival, then echoes.
type recorder struct{ ch chan seen }

func (r recorder) HandleMessage(ctx *Context, m *wire.Message) error {
	r.ch <- seen{m.Onward(), m.Return(), string(m.Payload())}
	return ctx.Reply(m)
}

// The seed's first example: app -> hopper1 -> hopper2 -> hopper3 -> echoer
// and back, on every placement of the workers over the loops.
func TestSeedExample(t *testing.T) {
	for _, loops := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("loops=%d", loops), func(t *testing.T) {
			n := newNode(t, Config{Loops: loops})
			rec := recorder{make(chan seen, 1)}
			mustStart(t, n, rec, "echoer")
			for _, h := range []string{"hopper1", "hopper2", "hopper3"} {
				mustStart(t, n, Hop{}, h)
			}
			app := mustContext(t, n, "app")
			reply, err := app.Request(wire.MustParseRoute("hopper1 => hopper2 => hopper3 => echoer"), []byte("Hello Ockam!"), wait)
			if err != nil {
				t.Fatal(err)
			}
			defer reply.Release()
			at := <-rec.ch
			if want := wire.MustParseRoute("echoer"); !at.onward.Equal(want) {
				t.Errorf("echoer saw onward [%v], want [%v]", at.onward, want)
			}
			// Behind the app's address, the tag that names the request.
			if want := wire.MustParseRoute("hopper3 => hopper2 => hopper1 => app => ~req-1"); !at.ret.Equal(want) {
				t.Errorf("echoer saw return [%v], want [%v]", at.ret, want)
			}
			if string(reply.Payload()) != "Hello Ockam!" {
				t.Errorf("reply payload %q", reply.Payload())
			}
			if want := wire.MustParseRoute("hopper1 => hopper2 => hopper3 => echoer"); !reply.Return().Equal(want) {
				t.Errorf("reply return route [%v], want [%v]", reply.Return(), want)
			}
		})
	}
}

func TestUppercaseAndForwarder(t *testing.T) {
	n := newNode(t, Config{})
	mustStart(t, n, Uppercase{}, "uppercase")
	mustStart(t, n, Hop{}, "h")
	mustStart(t, n, Forwarder{Route: wire.MustParseRoute("h => uppercase")}, "forward_to_responder")
	app := mustContext(t, n, "app")
	reply, err := app.Request(wire.MustParseRoute("forward_to_responder"), []byte("hello, hopwire"), wait)
	if err != nil {
		t.Fatal(err)
	}
	defer reply.Release()
	if string(reply.Payload()) != "HELLO, HOPWIRE" {
		t.Fatalf("payload %q", reply.Payload())
	}
	// The forwarder left the return route alone; the hop added itself.
	if want := wire.MustParseRoute("h => uppercase"); !reply.Return().Equal(want) {
		t.Fatalf("return route [%v], want [%v]", reply.Return(), want)
	}
}

func TestUnknownAddress(t *testing.T) {
	n := newNode(t, Config{})
	app := mustContext(t, n, "app")
	err := app.Send(wire.MustParseRoute("nobody"), []byte("x"))
	var ae *AddressError
	if !errors.Is(err, ErrUnknownWorker) || !errors.As(err, &ae) || ae.Input != "nobody" {
		t.Fatalf("send to unknown address: %v", err)
	}
	if err := app.Send(wire.MustParseRoute("9#somewhere"), nil); !errors.Is(err, ErrNoTransport) {
		t.Fatalf("send to a type without transport: %v", err)
	}
	// From the network: dropped and counted, and the node goes on.
	m, err := n.Pool().Build(wire.MustParseRoute("nobody"), wire.MustParseRoute("0#conn"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := HostOf(n).NewInbound().Deliver(n.newLink(0, false), m); !errors.Is(err, ErrUnknownWorker) {
		t.Fatalf("Deliver to unknown: %v", err)
	}
	if s := n.Stats(); s.UnknownAddress != 2 || s.Undeliverable != 1 {
		t.Fatalf("stats %+v", s)
	}
	mustStart(t, n, Echo{}, "echo")
	r, err := app.Request(wire.MustParseRoute("echo"), []byte("still here"), wait)
	if err != nil {
		t.Fatal(err)
	}
	r.Release()
}

func TestBadStarts(t *testing.T) {
	n := newNode(t, Config{Loops: 2})
	mustStart(t, n, Echo{}, "echo")
	if err := n.StartWorker(Echo{}, wire.LocalAddr("other"), wire.LocalAddr("echo")); !errors.Is(err, ErrAddressInUse) {
		t.Errorf("duplicate address: %v", err)
	}
	if _, err := n.NewContext(wire.LocalAddr("other")); err != nil {
		t.Errorf("a failed start must not keep its addresses: %v", err)
	}
	if err := n.StartWorker(Echo{}); !errors.Is(err, ErrNoAddress) {
		t.Errorf("no address: %v", err)
	}
	if err := n.StartWorker(Echo{}, wire.LocalAddr("")); !errors.Is(err, wire.ErrEmptyAddress) {
		t.Errorf("empty address: %v", err)
	}
	if err := n.StartWorkerOn(2, Echo{}, wire.LocalAddr("x")); !errors.Is(err, ErrBadLoop) {
		t.Errorf("loop out of range: %v", err)
	}
	if _, err := NewNode(Config{MaxFrame: 10}); err == nil {
		t.Error("tiny MaxFrame accepted")
	}
}

// gate blocks its loop until released, so a test can fill mailboxes. An
// off-loop sender that finds the loop parked runs the handler itself, so
// tests send the first message from a goroutine of its own.
type gate struct {
	entered chan struct{}
	release chan struct{}
	got     atomic.Int64
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 1), release: make(chan struct{})} }

func (g *gate) HandleMessage(ctx *Context, m *wire.Message) error {
	if g.got.Add(1) == 1 {
		g.entered <- struct{}{}
		<-g.release
	}
	return nil
}

func TestMailboxFullPushesBack(t *testing.T) {
	const size = 8
	n := newNode(t, Config{Loops: 1, MailboxSize: size, SendTimeout: -1})
	g := newGate()
	mustStart(t, n, g, "gate")
	app := mustContext(t, n, "app")
	to := wire.MustParseRoute("gate")
	go app.Send(to, nil) // whoever runs the gate blocks in it: not this goroutine
	<-g.entered          // the loop is now held inside the handler
	for i := 0; i < size; i++ {
		if err := app.Send(to, nil); err != nil {
			t.Fatalf("send %d into a mailbox of %d: %v", i, size, err)
		}
	}
	err := app.Send(to, nil)
	if !errors.Is(err, ErrMailboxFull) {
		t.Fatalf("send into a full mailbox: %v", err)
	}
	if s := n.Stats(); s.MailboxFull != 1 {
		t.Fatalf("MailboxFull = %d", s.MailboxFull)
	}
	close(g.release)
	// Nothing accepted is lost: all 1+size messages reach the worker.
	deadline := time.Now().Add(wait)
	for g.got.Load() != 1+size && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := g.got.Load(); got != 1+size {
		t.Fatalf("worker got %d messages, want %d", got, 1+size)
	}
}

func TestAppSendWaitsForRoom(t *testing.T) {
	const size = 4
	n := newNode(t, Config{Loops: 1, MailboxSize: size, SendTimeout: wait})
	g := newGate()
	mustStart(t, n, g, "gate")
	app := mustContext(t, n, "app")
	to := wire.MustParseRoute("gate")
	go app.Send(to, nil) // whoever runs the gate blocks in it: not this goroutine
	<-g.entered
	for i := 0; i < size; i++ {
		if err := app.Send(to, nil); err != nil {
			t.Fatal(err)
		}
	}
	sent := make(chan error, 1)
	go func() { sent <- app.Send(to, nil) }() // waits: the mailbox is full
	close(g.release)
	if err := <-sent; err != nil {
		t.Fatalf("waiting send: %v", err)
	}
	deadline := time.Now().Add(wait)
	for g.got.Load() != 2+size && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := g.got.Load(); got != 2+size {
		t.Fatalf("worker got %d, want %d", got, 2+size)
	}
}

func TestWorkerSendToFullMailboxFailsFast(t *testing.T) {
	const size = 4
	n := newNode(t, Config{Loops: 2, MailboxSize: size})
	g := newGate()
	if err := n.StartWorkerOn(1, g, wire.LocalAddr("gate")); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 1)
	if err := n.StartWorkerOn(0, WorkerFunc(func(ctx *Context, m *wire.Message) error {
		var err error
		for i := 0; i <= size && err == nil; i++ {
			err = ctx.Send(wire.MustParseRoute("gate"), nil)
		}
		errs <- err
		return nil
	}), wire.LocalAddr("flood")); err != nil {
		t.Fatal(err)
	}
	app := mustContext(t, n, "app")
	go app.Send(wire.MustParseRoute("gate"), nil) // whoever runs the gate blocks in it
	<-g.entered
	app.Send(wire.MustParseRoute("flood"), nil)
	if err := <-errs; !errors.Is(err, ErrMailboxFull) {
		t.Fatalf("worker flooding a full mailbox: %v", err)
	}
	close(g.release)
}

type stopper struct {
	stopped chan string
}

func (s stopper) HandleMessage(ctx *Context, m *wire.Message) error { return ctx.Reply(m) }
func (s stopper) Shutdown(ctx *Context)                             { s.stopped <- ctx.Address().Value() }

func TestStopWorker(t *testing.T) {
	n := newNode(t, Config{})
	s := stopper{make(chan string, 2)}
	mustStart(t, n, s, "svc", "svc-alias")
	app := mustContext(t, n, "app")
	r, err := app.Request(wire.MustParseRoute("svc-alias"), nil, wait)
	if err != nil {
		t.Fatal(err)
	}
	r.Release()
	if err := n.StopWorker(wire.LocalAddr("svc")); err != nil {
		t.Fatal(err)
	}
	if got := <-s.stopped; got != "svc" {
		t.Fatalf("Shutdown ran for %q", got)
	}
	if err := app.Send(wire.MustParseRoute("svc-alias"), nil); !errors.Is(err, ErrUnknownWorker) {
		t.Fatalf("send to a stopped worker's alias: %v", err)
	}
	if err := n.StopWorker(wire.LocalAddr("svc")); !errors.Is(err, ErrUnknownWorker) {
		t.Fatalf("second stop: %v", err)
	}
	mustStart(t, n, Echo{}, "svc") // the address is free again
}

// Close with messages queued everywhere: in a held loop's inbox, in an
// app mailbox nobody reads. Everything is released, nothing leaks.
func TestCloseReleasesEverything(t *testing.T) {
	n, err := NewNode(Config{Loops: 2, MailboxSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	s := stopper{make(chan string, 1)}
	mustStart(t, n, s, "stopper")
	g := newGate()
	if err := n.StartWorkerOn(0, g, wire.LocalAddr("gate")); err != nil {
		t.Fatal(err)
	}
	mustStart(t, n, Echo{}, "echo")
	app := mustContext(t, n, "app")
	go app.Send(wire.MustParseRoute("gate"), nil) // whoever runs the gate blocks in it
	<-g.entered
	for i := 0; i < 20; i++ {
		app.Send(wire.MustParseRoute("gate"), []byte("queued"))
		app.Send(wire.MustParseRoute("echo"), []byte("unread reply"))
	}
	closed := make(chan error, 1)
	go func() { closed <- n.Close() }()
	close(g.release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if <-s.stopped != "stopper" {
		t.Fatal("Shutdown did not run")
	}
	if live := n.Pool().Live(); live != 0 {
		t.Fatalf("%d messages not released", live)
	}
	if err := app.Send(wire.MustParseRoute("echo"), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
	if _, err := app.Receive(wait); !errors.Is(err, ErrClosed) && !errors.Is(err, ErrTimeout) {
		t.Fatalf("receive after close: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

// Many app goroutines drive request/reply through hop chains spread over
// the loops; every reply comes back with the right payload.
func TestConcurrentTraffic(t *testing.T) {
	n := newNode(t, Config{Loops: 4})
	for i := 0; i < 6; i++ {
		mustStart(t, n, Hop{}, fmt.Sprintf("h%d", i))
	}
	mustStart(t, n, Uppercase{}, "up")
	route := wire.MustParseRoute("h0 => h1 => h2 => h3 => h4 => h5 => up")
	senders, each := 8, 500
	if testing.Short() || raceEnabled {
		each = 100
	}
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			app, err := n.NewContext(wire.LocalAddr(fmt.Sprintf("app%d", s)))
			if err != nil {
				errs <- err
				return
			}
			defer app.Close()
			for i := 0; i < each; i++ {
				msg := fmt.Sprintf("msg %d/%d", s, i)
				r, err := app.Request(route, []byte(msg), wait)
				if err != nil {
					errs <- err
					return
				}
				got := string(r.Payload())
				r.Release()
				if want := fmt.Sprintf("MSG %d/%d", s, i); got != want {
					errs <- fmt.Errorf("got %q want %q", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Messages from one sender to one worker arrive in order, across loops.
func TestOrderAcrossLoops(t *testing.T) {
	const count = 2000
	n := newNode(t, Config{Loops: 2, MailboxSize: 2 * count}) // no room for a drop
	mustStart(t, n, Hop{}, "h")                               // loop 0
	app := mustContext(t, n, "app")
	got := make(chan error, count)
	next := 0
	if err := n.StartWorkerOn(1, WorkerFunc(func(ctx *Context, m *wire.Message) error {
		if want := fmt.Sprint(next); string(m.Payload()) != want {
			got <- fmt.Errorf("got %q want %q", m.Payload(), want)
			return nil
		}
		if next++; next == count {
			got <- nil
		}
		return nil
	}), wire.LocalAddr("sink")); err != nil {
		t.Fatal(err)
	}
	route := wire.MustParseRoute("h => sink")
	for i := 0; i < count; i++ {
		if err := app.Send(route, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

func TestRequestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	n := newNode(t, Config{Loops: 2})
	mustStart(t, n, Hop{}, "h1")
	mustStart(t, n, Hop{}, "h2")
	mustStart(t, n, Echo{}, "echo")
	app := mustContext(t, n, "app")
	route := wire.MustParseRoute("h1 => h2 => echo")
	payload := make([]byte, 64)
	allocs := testing.AllocsPerRun(200, func() {
		r, err := app.Request(route, payload, wait)
		if err != nil {
			panic(err)
		}
		r.Release()
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per request through two hops and an echo, want 0", allocs)
	}
}

// directFunc adapts a function to Direct.
type directFunc func(m *wire.Message) error

func (f directFunc) Take(m *wire.Message) error { return f(m) }

func TestDirect(t *testing.T) {
	n := newNode(t, Config{Loops: 2})
	got := make(chan string, 4)
	if err := HostOf(n).StartDirect(directFunc(func(m *wire.Message) error {
		got <- string(m.Payload())
		m.Release()
		return nil
	}), nil, wire.LocalAddr("direct")); err != nil {
		t.Fatal(err)
	}
	mustStart(t, n, Hop{}, "hop")
	app := mustContext(t, n, "app")
	if err := app.Send(wire.MustParseRoute("direct"), []byte("from app")); err != nil {
		t.Fatal(err)
	}
	if err := app.Send(wire.MustParseRoute("hop => direct"), []byte("from a worker")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"from app", "from a worker"} {
		if g := <-got; g != want {
			t.Fatalf("got %q, want %q", g, want)
		}
	}
	if err := n.StopWorker(wire.LocalAddr("direct")); err != nil {
		t.Fatal(err)
	}
	if err := app.Send(wire.MustParseRoute("direct"), nil); !errors.Is(err, ErrUnknownWorker) {
		t.Fatalf("send to a stopped direct receiver: %v", err)
	}
}

// A transport's Deliver into a full mailbox waits for room (its reader
// stops reading meanwhile); with no wait configured it drops at once.
func TestDeliverWaitsForRoom(t *testing.T) {
	for _, tc := range []struct {
		wait    time.Duration
		wantErr error
	}{{wait, nil}, {-1, ErrMailboxFull}} {
		const size = 4
		n := newNode(t, Config{Loops: 1, MailboxSize: size, DeliverWait: tc.wait})
		g := newGate()
		mustStart(t, n, g, "gate")
		if err := n.Allow(AllFlows, wire.LocalAddr("gate")); err != nil {
			t.Fatal(err)
		}
		link := n.newLink(0, false)
		deliver := func() error {
			m, err := n.Pool().Build(wire.MustParseRoute("gate"), nil, nil)
			if err != nil {
				return err
			}
			return HostOf(n).NewInbound().Deliver(link, m)
		}
		go deliver() // whoever runs the gate blocks in it
		<-g.entered
		for i := 0; i < size; i++ {
			if err := deliver(); err != nil {
				t.Fatal(err)
			}
		}
		res := make(chan error, 1)
		go func() { res <- deliver() }()
		if tc.wantErr != nil {
			if err := <-res; !errors.Is(err, tc.wantErr) {
				t.Fatalf("DeliverWait %v: %v, want %v", tc.wait, err, tc.wantErr)
			}
			close(g.release)
			continue
		}
		close(g.release)
		if err := <-res; err != nil {
			t.Fatalf("waiting Deliver: %v", err)
		}
	}
}

// A sender that borrows a parked loop runs a bounded amount of its work,
// same-loop work included, then hands the rest to the loop's goroutine: a
// worker that keeps sending to itself does not keep the sender for ever.
func TestBorrowIsBounded(t *testing.T) {
	n := newNode(t, Config{Loops: 1})
	const total, holdAt = 100_000, 10 * borrowTurns * turnBudget
	var count atomic.Int64
	hold := make(chan struct{})
	if err := n.StartWorker(WorkerFunc(func(ctx *Context, m *wire.Message) error {
		c := count.Add(1)
		if c == holdAt {
			<-hold // whoever runs the loop waits here: it must not be the sender
		}
		if c < total {
			return ctx.Send(wire.MustParseRoute("self"), nil)
		}
		return nil
	}), wire.LocalAddr("self")); err != nil {
		t.Fatal(err)
	}
	app := mustContext(t, n, "app")
	sent := make(chan error, 1)
	go func() { sent <- app.Send(wire.MustParseRoute("self"), nil) }()
	select {
	case err := <-sent:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		close(hold)
		t.Fatal("Send did not return: the borrower ran the worker's own traffic")
	}
	close(hold)
	deadline := time.Now().Add(wait)
	for count.Load() < total && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if c := count.Load(); c != total {
		t.Fatalf("worker ran %d times, want %d", c, total)
	}
}

// An Inbound remembers what it resolved, and forgets it when workers
// start or stop: a message for an address whose worker was replaced
// reaches the new worker, and one for a stopped worker is refused.
func TestInboundResolutionFollowsTheRegistry(t *testing.T) {
	n := newNode(t, Config{})
	got := make(chan string, 4)
	worker := func(name string) Worker {
		return WorkerFunc(func(ctx *Context, m *wire.Message) error {
			got <- name
			return nil
		})
	}
	mustStart(t, n, worker("first"), "svc")
	if err := n.Allow(AllFlows, wire.LocalAddr("svc")); err != nil {
		t.Fatal(err)
	}
	in, link := HostOf(n).NewInbound(), n.newLink(0, false)
	deliver := func() error {
		m, err := n.Pool().Build(wire.MustParseRoute("svc"), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return in.Deliver(link, m)
	}
	for _, want := range []string{"first", "first"} {
		if err := deliver(); err != nil {
			t.Fatal(err)
		}
		if g := <-got; g != want {
			t.Fatalf("got %q, want %q", g, want)
		}
	}
	if err := n.StopWorker(wire.LocalAddr("svc")); err != nil {
		t.Fatal(err)
	}
	if err := deliver(); !errors.Is(err, ErrUnknownWorker) {
		t.Fatalf("deliver to a stopped worker: %v", err)
	}
	mustStart(t, n, worker("second"), "svc")
	if err := n.Allow(AllFlows, wire.LocalAddr("svc")); err != nil {
		t.Fatal(err)
	}
	if err := deliver(); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "second" {
		t.Fatalf("got %q after the worker was replaced", g)
	}
}

// A handler stops its node with Shutdown and a done context: it returns
// at once (Close would wait for the very loop the handler holds) and the
// node stops once the handler has returned.
func TestShutdownFromAHandler(t *testing.T) {
	n := newNode(t, Config{Loops: 1})
	done, cancel := context.WithCancel(context.Background())
	cancel()
	returned := make(chan error, 1)
	if err := n.StartWorker(WorkerFunc(func(*Context, *wire.Message) error {
		returned <- n.Shutdown(done)
		return nil
	}), wire.LocalAddr("stopper")); err != nil {
		t.Fatal(err)
	}
	app, err := n.NewContext(wire.LocalAddr("app"))
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Send(wire.MustParseRoute("stopper"), []byte("stop")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-returned:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Shutdown from a handler: %v, want context.Canceled", err)
		}
	case <-time.After(wait):
		t.Fatal("Shutdown from a handler did not return")
	}
	select {
	case <-n.Done():
	case <-time.After(wait):
		t.Fatal("the node did not stop")
	}
}
