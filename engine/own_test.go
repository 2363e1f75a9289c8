package engine

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/hopwire/hopwire/wire"
)

// releaser tells the app how many messages it has seen, then releases the
// one it is handling itself, as a handler that is done with a message
// may.
type releaser struct{ seen int }

func (r *releaser) HandleMessage(ctx *Context, m *wire.Message) error {
	r.seen++
	if err := ctx.Send(wire.MustParseRoute("app"), []byte(strconv.Itoa(r.seen))); err != nil {
		return err
	}
	m.Release()
	return nil
}

// A handler that releases its message is not blamed for it: the engine
// does not release the message again (which panicked and stopped the
// worker), and the worker goes on handling messages.
func TestHandlerReleases(t *testing.T) {
	for _, loops := range []int{1, 2} {
		t.Run("loops="+strconv.Itoa(loops), func(t *testing.T) {
			n := panicNode(t, Config{Loops: loops})
			mustStart(t, n, &releaser{}, "rel")
			app := mustContext(t, n, "app")
			for i := 1; i <= 3; i++ {
				if err := app.Send(wire.MustParseRoute("rel"), []byte("x")); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
				if got := receive(t, app); got != strconv.Itoa(i) {
					t.Fatalf("reply %q, want %d", got, i)
				}
			}
			if s := n.Stats(); s.Panics != 0 {
				t.Fatalf("stats %+v: a handler's Release was taken for a fault", s)
			}
			closeWithin(t, n) // and every message released once
		})
	}
}

// builder releases the message it handles, then builds one of its own,
// which it owns and sends on when it handles the next message. The pool
// must not hand it the buffer it just released while the engine still
// has it: the engine would then release the builder's message under it.
type builder struct{ own *wire.Message }

func (b *builder) HandleMessage(ctx *Context, m *wire.Message) error {
	if b.own != nil {
		own := b.own
		b.own = nil
		return ctx.Forward(own)
	}
	m.Release()
	own, err := ctx.Node().Pool().Build(wire.MustParseRoute("app"), nil, []byte("built after the release"))
	if err != nil {
		return err
	}
	b.own = own
	return nil
}

func TestHandlerReleasesThenBuilds(t *testing.T) {
	n := panicNode(t, Config{Loops: 1})
	mustStart(t, n, &builder{}, "b")
	app := mustContext(t, n, "app")
	for range 2 {
		if err := app.Send(wire.MustParseRoute("b"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := receive(t, app); got != "built after the release" {
		t.Fatalf("got %q", got)
	}
	if s := n.Stats(); s.Panics != 0 {
		t.Fatalf("stats %+v", s)
	}
	closeWithin(t, n)
}

// window keeps what it is sent until it gets "flush", then sends what it
// kept on, in order, from that later handler, and replies to the flush.
// What it still keeps when it stops, its Shutdown releases.
type window struct{ kept []*wire.Message }

func (w *window) HandleMessage(ctx *Context, m *wire.Message) error {
	if string(m.Payload()) != "flush" {
		ctx.Keep(m)
		w.kept = append(w.kept, m)
		return nil
	}
	for i, k := range w.kept {
		w.kept[i] = nil
		if err := k.Hop(); err != nil {
			k.Release()
			return err
		}
		if err := ctx.Forward(k); err != nil {
			return err
		}
	}
	w.kept = w.kept[:0]
	return ctx.Reply(m)
}

func (w *window) Shutdown(*Context) {
	for _, k := range w.kept {
		k.Release()
	}
}

// A worker keeps messages past its handler with Keep and sends them on
// from a later one; the engine neither releases them when the handler
// returns nor loses track of them (every one is released once, by the
// worker, at last).
func TestKeep(t *testing.T) {
	for _, loops := range []int{1, 2} {
		t.Run("loops="+strconv.Itoa(loops), func(t *testing.T) {
			n := panicNode(t, Config{Loops: loops})
			mustStart(t, n, &window{}, "win")
			app := mustContext(t, n, "app")
			route := wire.MustParseRoute("win => app")
			for _, p := range []string{"a", "b", "c"} {
				if err := app.Send(route, []byte(p)); err != nil {
					t.Fatal(err)
				}
			}
			if err := app.Send(wire.MustParseRoute("win"), []byte("flush")); err != nil {
				t.Fatal(err)
			}
			var got []string
			for range 4 {
				got = append(got, receive(t, app))
			}
			if strings.Join(got, " ") != "a b c flush" {
				t.Fatalf("got %q", got)
			}
			// Kept at Close: released by the worker's Shutdown.
			for _, p := range []string{"d", "e"} {
				if err := app.Send(route, []byte(p)); err != nil {
					t.Fatal(err)
				}
			}
			if s := n.Stats(); s.Panics != 0 {
				t.Fatalf("stats %+v", s)
			}
			closeWithin(t, n)
		})
	}
}

// Keep is for the message being handled; for any other it does nothing,
// and a handler that keeps its message and then releases it has released
// it: the engine does not release it again.
func TestKeepThenRelease(t *testing.T) {
	n := panicNode(t, Config{Loops: 1})
	mustStart(t, n, WorkerFunc(func(ctx *Context, m *wire.Message) error {
		ctx.Keep(m)
		ctx.Keep(m)
		other, err := ctx.Node().Pool().Build(wire.MustParseRoute("app"), nil, m.Payload())
		if err != nil {
			return err
		}
		ctx.Keep(other)
		m.Release()
		return ctx.Forward(other)
	}), "k")
	app := mustContext(t, n, "app")
	if got := request(t, app, "k", "kept and released"); got != "kept and released" {
		t.Fatalf("got %q", got)
	}
	if s := n.Stats(); s.Panics != 0 {
		t.Fatalf("stats %+v", s)
	}
	closeWithin(t, n)
}

// A handler that uses its message after releasing it panics, in a build
// with wire's use checks (-tags hopwire_checks), with
// wire.ErrUseAfterRelease, and is stopped for it as for any panic; the
// message is released once.
func TestUseAfterReleaseInAHandler(t *testing.T) {
	if !useChecked() {
		t.Skip("wire's use-after-release check is off: build with -tags hopwire_checks, as make test does")
	}
	log := &records{}
	n := panicNode(t, Config{Loops: 1, Logger: slog.New(log)})
	mustStart(t, n, WorkerFunc(func(ctx *Context, m *wire.Message) error {
		m.Release()
		return ctx.Reply(m)
	}), "bad")
	mustStart(t, n, Echo{}, "echo")
	app := mustContext(t, n, "app")
	if err := app.Send(wire.MustParseRoute("bad"), nil); err != nil {
		t.Fatal(err)
	}
	if got := request(t, app, "echo", "still here"); got != "still here" {
		t.Fatalf("echo: %q", got)
	}
	p := log.panics()
	if len(p) != 1 || !strings.Contains(p[0]["panic"], wire.ErrUseAfterRelease.Error()) {
		t.Fatalf("panics logged: %v", p)
	}
	closeWithin(t, n)
}

// collector gathers the payloads it is sent and, on an empty one, sends
// the app what it gathered.
type collector struct{ buf bytes.Buffer }

func (c *collector) HandleMessage(ctx *Context, m *wire.Message) error {
	if len(m.Payload()) == 0 {
		if err := m.SetPayload(c.buf.Bytes()); err != nil {
			return err
		}
		return ctx.Reply(m)
	}
	c.buf.Write(m.Payload())
	return nil
}

// A stream reader (a portal's inlet, say) reads straight into a message's
// payload and forwards the message: the bytes go from the connection into
// the message with no copy between, and arrive as the stream had them.
func TestReadStraightIntoPayload(t *testing.T) {
	n := newNode(t, Config{Loops: 2})
	mustStart(t, n, &collector{}, "collect")
	app := mustContext(t, n, "app")
	route, ret := wire.MustParseRoute("collect"), wire.MustParseRoute("app")

	stream := make([]byte, 100_000)
	for i := range stream {
		stream[i] = byte(i * 7)
	}
	inlet, peer := net.Pipe()
	defer inlet.Close()
	go func() {
		// Odd-sized writes, so reads come short of the room.
		for b := stream; len(b) > 0; {
			k := min(len(b), 1+len(b)%3001)
			peer.Write(b[:k])
			b = b[k:]
		}
		peer.Close()
	}()
	const room = 4096
	reads := 0
	for {
		m, err := n.Pool().BuildRoom(route, ret, room)
		if err != nil {
			t.Fatal(err)
		}
		k, err := inlet.Read(m.Payload())
		if k == 0 {
			m.Release()
			if err != io.EOF {
				t.Fatalf("read: %v", err)
			}
			break
		}
		reads++
		if err := m.SetPayloadLen(k); err != nil {
			t.Fatal(err)
		}
		if err := app.Forward(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Send(route, nil); err != nil {
		t.Fatal(err)
	}
	r, err := app.Receive(wait)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if !bytes.Equal(r.Payload(), stream) {
		t.Fatalf("collected %d bytes in %d reads; they differ from the %d sent", len(r.Payload()), reads, len(stream))
	}
}

// Reading into a message's room and forwarding it over the engine costs
// no allocation once the pool is warm.
func TestReadIntoPayloadZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	n := newNode(t, Config{Loops: 2})
	mustStart(t, n, Hop{}, "h")
	mustStart(t, n, Echo{}, "echo")
	app := mustContext(t, n, "app")
	route, ret := wire.MustParseRoute("h => echo"), wire.MustParseRoute("app")
	src := bytes.Repeat([]byte("chunk of a stream "), 1000)
	r := bytes.NewReader(src)
	for _, room := range []int{256, 16 << 10} {
		allocs := testing.AllocsPerRun(200, func() {
			m, err := n.Pool().BuildRoom(route, ret, room)
			if err != nil {
				panic(err)
			}
			if r.Len() == 0 {
				r.Reset(src)
			}
			k, err := r.Read(m.Payload())
			if err != nil {
				panic(err)
			}
			if err := m.SetPayloadLen(k); err != nil {
				panic(err)
			}
			if err := app.Forward(m); err != nil {
				panic(err)
			}
			reply, err := app.Receive(wait)
			if err != nil {
				panic(err)
			}
			if len(reply.Payload()) != k {
				panic(errors.New("reply of the wrong length"))
			}
			reply.Release()
		})
		if allocs != 0 {
			t.Errorf("room %d: %v allocs per read into a payload and round trip over two hops", room, allocs)
		}
	}
}

// useChecked reports whether wire's accessors check for use after
// release in this build.
func useChecked() (on bool) {
	m, err := wire.NewPool(0).Build(wire.MustParseRoute("x"), nil, nil)
	if err != nil {
		panic(err)
	}
	m.Release()
	defer func() { on = recover() != nil }()
	m.Payload()
	return false
}
