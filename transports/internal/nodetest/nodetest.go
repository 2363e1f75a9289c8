// Package nodetest has what the transports' tests share: nodes that check
// at cleanup that they released every message, a worker that measures
// round trips, and latency reporting for benchmarks.
package nodetest

import (
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// NewNode starts a node that closes at cleanup and fails tb if a message
// is still live then. Under -v it logs at debug level to stderr.
func NewNode(tb testing.TB, cfg engine.Config) *engine.Node {
	tb.Helper()
	if cfg.Logger == nil && testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n, err := engine.NewNode(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := n.Close(); err != nil {
			tb.Error(err)
		}
		if live := n.Pool().Live(); live != 0 {
			tb.Errorf("%s: %d messages not released after Close", n.Name(), live)
		}
	})
	return n
}

// Request sends payload along route from app and returns the reply's
// payload and return route.
func Request(tb testing.TB, app *engine.App, route, payload string, wait time.Duration) (string, wire.Route) {
	tb.Helper()
	r, err := app.Request(wire.MustParseRoute(route), []byte(payload), wait)
	if err != nil {
		tb.Fatalf("request %q: %v", route, err)
	}
	defer r.Release()
	return string(r.Payload()), r.Return()
}

// NewHist returns a histogram of durations from 1 ns to 10 s.
func NewHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, int64(10*time.Second), 3) }

// ReportLatency reports h's p50 and p99 in µs, named with prefix.
func ReportLatency(b *testing.B, prefix string, h *hdrhistogram.Histogram) {
	b.ReportMetric(float64(h.ValueAtQuantile(50))/1e3, prefix+"p50-µs")
	b.ReportMetric(float64(h.ValueAtQuantile(99))/1e3, prefix+"p99-µs")
}

// Pinger bounces one message along Route and back, Rounds times per kick,
// recording each round trip in Hist, and signals Done after the last. The
// kick (any message sent to it while idle) becomes the message that
// circulates, so its payload is copied only where a transport receives it.
// Set Rounds before each kick.
type Pinger struct {
	Route  wire.Route
	Rounds int
	Hist   *hdrhistogram.Histogram
	Done   chan struct{}
	left   int
	t0     time.Time
}

// NewPinger returns a Pinger along route.
func NewPinger(route wire.Route) *Pinger {
	return &Pinger{Route: route, Hist: NewHist(), Done: make(chan struct{}, 1)}
}

// HandleMessage starts a run on a kick and sends the message on again
// otherwise.
func (p *Pinger) HandleMessage(ctx *engine.Context, m *wire.Message) error {
	if p.left == 0 { // a kick
		p.left = p.Rounds
		p.t0 = time.Now()
		return p.send(ctx, m)
	}
	now := time.Now()
	p.Hist.RecordValue(int64(now.Sub(p.t0)))
	if p.left--; p.left == 0 {
		p.Done <- struct{}{}
		return nil
	}
	p.t0 = now
	return p.send(ctx, m)
}

// send turns m into a new request along Route, in place. Each round goes
// the whole way, as a client's would: replying along the return route
// instead would skip the workers on the way (a forwarder does not put
// itself on the return route), and the nodes deny that anyway.
func (p *Pinger) send(ctx *engine.Context, m *wire.Message) error {
	if err := m.Turn(ctx.Address()); err != nil {
		return err
	}
	for m.OnwardLen() > 1 {
		if err := m.Step(); err != nil {
			return err
		}
	}
	if err := m.Redirect(p.Route); err != nil {
		return err
	}
	m.SetHops(wire.DefaultHops) // a new request: its own hop budget
	return ctx.Forward(m)
}
