package main

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// BenchmarkSeedThreeProcesses is the seed's route with the middle and
// responder nodes as OS processes: initiator -> middle -> responder and
// back, four TCP legs. The initiator, in the benchmark's process, asks in
// two ways: app.Request from a goroutine (what an embedding program
// does; the reply wakes that goroutine) and a worker that sends the next
// request from its handler (a node's own services; no goroutine to
// wake). The baseline in the same run is plain Go TCP over the same four
// legs: a relay process and an echo process. The three run in
// alternating blocks so drift in the machine's load hits all of them.
//
// Sub-benchmarks set the node and baseline processes' GOMAXPROCS:
// "procs=default" leaves it at the CPU count; "procs=1" is the
// deployment for more busy processes than CPUs (three here, on a
// two-CPU machine), where idle Ps only add wake-ups.
func BenchmarkSeedThreeProcesses(b *testing.B) {
	for _, c := range []struct {
		name string
		env  []string
	}{
		{"procs=default", nil},
		{"procs=1", []string{"GOMAXPROCS=1"}},
	} {
		b.Run(c.name, func(b *testing.B) { benchSeed(b, c.env) })
	}
}

func benchSeed(b *testing.B, env []string) {
	route := seedProcesses(b, env...)
	n := initiatorNode(b)
	app, err := n.NewContext(wire.LocalAddr("app"))
	if err != nil {
		b.Fatal(err)
	}
	pinger := &requester{route: route, payload: make([]byte, 64), hist: newHist(), done: make(chan struct{}, 1)}
	if err := n.StartWorker(pinger, wire.LocalAddr("pinger")); err != nil {
		b.Fatal(err)
	}
	echo := startProcEnv(b, env, "raw-echo")
	relay := startProcEnv(b, env, "raw-relay", echo.addr)
	conn, err := net.Dial("tcp", relay.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()

	payload := make([]byte, 64)
	buf := make([]byte, len(payload))
	hop, raw := newHist(), newHist()
	hopRounds := func(k int) {
		for i := 0; i < k; i++ {
			t0 := time.Now()
			r, err := app.Request(route, payload, wait)
			if err != nil {
				b.Fatal(err)
			}
			r.Release()
			hop.RecordValue(int64(time.Since(t0)))
		}
	}
	kick := wire.MustParseRoute("pinger")
	workerRounds := func(k int) {
		pinger.left = k
		if err := app.Send(kick, nil); err != nil {
			b.Fatal(err)
		}
		select {
		case <-pinger.done:
		case <-time.After(wait + time.Duration(k)*time.Millisecond):
			b.Fatal("the worker's round trips did not finish")
		}
	}
	rawRounds := func(k int) {
		for i := 0; i < k; i++ {
			t0 := time.Now()
			if _, err := conn.Write(payload); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(conn, buf); err != nil {
				b.Fatal(err)
			}
			raw.RecordValue(int64(time.Since(t0)))
		}
	}
	const block = 100
	hopRounds(block) // connect and warm up
	workerRounds(block)
	rawRounds(block)
	hop.Reset()
	pinger.hist.Reset()
	raw.Reset()
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		k := min(block, b.N-done)
		hopRounds(k)
		b.StopTimer()
		workerRounds(k)
		rawRounds(k)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(hop.ValueAtQuantile(50))/1e3, "hop-p50-µs")
	b.ReportMetric(float64(hop.ValueAtQuantile(99))/1e3, "hop-p99-µs")
	b.ReportMetric(float64(pinger.hist.ValueAtQuantile(50))/1e3, "worker-p50-µs")
	b.ReportMetric(float64(raw.ValueAtQuantile(50))/1e3, "raw-p50-µs")
	b.ReportMetric(float64(raw.ValueAtQuantile(99))/1e3, "raw-p99-µs")
	b.ReportMetric(float64(hop.ValueAtQuantile(50))/float64(raw.ValueAtQuantile(50)), "p50-ratio")
}

// requester is the worker initiator: a kick starts left round trips along
// route, each request sent from the handler of the previous reply.
type requester struct {
	route   wire.Route
	payload []byte
	hist    *hdrhistogram.Histogram
	done    chan struct{}
	left    int
	busy    bool
	t0      time.Time
}

func (r *requester) HandleMessage(ctx *engine.Context, _ *wire.Message) error {
	if r.busy { // a reply
		r.hist.RecordValue(int64(time.Since(r.t0)))
		if r.left--; r.left == 0 {
			r.busy = false
			r.done <- struct{}{}
			return nil
		}
	}
	r.busy = true
	r.t0 = time.Now()
	return ctx.Send(r.route, r.payload)
}

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, int64(10*time.Second), 3) }
