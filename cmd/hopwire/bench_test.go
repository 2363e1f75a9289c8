package main

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// BenchmarkSeedThreeProcesses is the seed's route with the middle and
// responder nodes as OS processes: request/reply from an app context over
// four TCP legs (initiator -> middle -> responder and back). The baseline
// in the same run is plain Go TCP over the same four legs: a relay process
// and an echo process. The two run in alternating blocks so drift in the
// machine's load hits both. Reported: p50/p99 of each, and their ratio.
func BenchmarkSeedThreeProcesses(b *testing.B) {
	route := seedProcesses(b)
	app := initiator(b)
	echo := startProc(b, "raw-echo")
	relay := startProc(b, "raw-relay", echo.addr)
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
	rawRounds(block)
	hop.Reset()
	raw.Reset()
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		k := min(block, b.N-done)
		hopRounds(k)
		b.StopTimer()
		rawRounds(k)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(hop.ValueAtQuantile(50))/1e3, "hop-p50-µs")
	b.ReportMetric(float64(hop.ValueAtQuantile(99))/1e3, "hop-p99-µs")
	b.ReportMetric(float64(raw.ValueAtQuantile(50))/1e3, "raw-p50-µs")
	b.ReportMetric(float64(raw.ValueAtQuantile(99))/1e3, "raw-p99-µs")
	b.ReportMetric(float64(hop.ValueAtQuantile(50))/float64(raw.ValueAtQuantile(50)), "p50-ratio")
}

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, int64(10*time.Second), 3) }
