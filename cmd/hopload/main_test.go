package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/transports/udp"
	"github.com/hopwire/hopwire/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's package-level goroutine pool (ants), started by its init.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

// guard bounds every run a test makes: only a broken hopload takes this
// long, and the test then fails instead of hanging.
const guard = 60 * time.Second

// server is an in-process node with services reachable through a
// listener on 127.0.0.1.
type server struct {
	node *engine.Node
	addr string // host:port of the listener (or bound UDP socket)
}

// services are the workers a test server runs; echoer and hop are always
// there.
type services map[string]engine.Worker

// startServer starts a node with a TCP listener (or, with useUDP, a bound
// UDP socket) on 127.0.0.1:0 and the services allowed through it. It
// closes at cleanup and fails the test if it leaked a message.
func startServer(t testing.TB, useUDP bool, extra services) *server {
	t.Helper()
	n, err := engine.NewNode(engine.Config{Name: "server", Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Close()
		if live := n.Pool().Live(); live != 0 {
			t.Errorf("server: %d messages not released after Close", live)
		}
	})
	all := services{"echoer": engine.Echo{}, "hop": engine.Hop{}}
	for name, w := range extra {
		all[name] = w
	}
	var names []wire.Address
	for name, w := range all {
		if err := n.StartWorker(w, wire.LocalAddr(name)); err != nil {
			t.Fatal(err)
		}
		names = append(names, wire.LocalAddr(name))
	}
	s := &server{node: n}
	var flow uint64
	if useUDP {
		tr, err := udp.New(n, udp.Config{ClientAddr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		sock, err := tr.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.addr, flow = sock.Addr().Value(), sock.Flow()
	} else {
		tr, err := tcp.New(n, tcp.Config{})
		if err != nil {
			t.Fatal(err)
		}
		l, err := tr.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.addr, flow = l.Addr().Value(), l.Flow()
	}
	if err := n.Allow(flow, names...); err != nil {
		t.Fatal(err)
	}
	return s
}

// route returns the route to service (and on) over TCP.
func (s *server) route(rest string) string { return "1#" + s.addr + " => " + rest }

// load runs cfg against ctx bounded by guard.
func load(t testing.TB, cfg Config) (*Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	res, err := Run(ctx, cfg)
	if ctx.Err() != nil {
		t.Fatalf("run did not end within %v", guard)
	}
	return res, err
}

// checkBalance fails t if a request is unaccounted for.
func checkBalance(t testing.TB, res *Result) {
	t.Helper()
	if res.Sent != res.Received+res.Lost+res.Corrupt {
		t.Errorf("sent %d != received %d + lost %d + corrupt %d", res.Sent, res.Received, res.Lost, res.Corrupt)
	}
	if got := uint64(res.Histogram.TotalCount()); got != res.Measured {
		t.Errorf("histogram holds %d round trips, measured %d", got, res.Measured)
	}
	if res.WarmupSec == 0 && res.Measured != res.Received {
		t.Errorf("measured %d, received %d, with no warm-up", res.Measured, res.Received)
	}
	if h := res.UncorrectedHistogram; h != nil && h.TotalCount() != res.Histogram.TotalCount() {
		t.Errorf("uncorrected histogram holds %d round trips, corrected %d", h.TotalCount(), res.Histogram.TotalCount())
	}
}

// sink swallows every message.
var sink = engine.WorkerFunc(func(*engine.Context, *wire.Message) error { return nil })

// twice replies to every message twice.
var twice = engine.WorkerFunc(func(ctx *engine.Context, m *wire.Message) error {
	if err := ctx.Send(m.Return(), m.Payload()); err != nil {
		return err
	}
	return ctx.Reply(m)
})

// flip replies with the payload's last byte changed.
var flip = engine.WorkerFunc(func(ctx *engine.Context, m *wire.Message) error {
	p := m.Payload()
	p[len(p)-1] ^= 0xff
	return ctx.Reply(m)
})

// delayer answers each message only when the next one arrives, so with
// one request in flight every reply comes after its request timed out.
type delayer struct {
	route   wire.Route
	payload []byte
}

func (d *delayer) HandleMessage(ctx *engine.Context, m *wire.Message) error {
	if d.route != nil {
		if err := ctx.Send(d.route, d.payload); err != nil {
			return err
		}
	}
	d.route, d.payload = m.Return(), append(d.payload[:0], m.Payload()...)
	return nil
}

// signalWriter closes ch on its first write: a progress line means the
// run is under way.
type signalWriter struct {
	once sync.Once
	ch   chan struct{}
	mu   sync.Mutex
	buf  bytes.Buffer
}

func newSignalWriter() *signalWriter { return &signalWriter{ch: make(chan struct{})} }

func (w *signalWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.ch) })
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func describe(res *Result) string {
	var b bytes.Buffer
	_ = res.WriteText(&b)
	return fmt.Sprintf("\n%s", b.String())
}
