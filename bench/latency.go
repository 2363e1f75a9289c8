package bench

import (
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Round trips are recorded in HDR histograms (1 ns to a minute, three
// significant digits), one per benchmark run, which the harness merges
// over the rounds into one distribution per side.

// newRTTHist returns a histogram of round trips in ns.
func newRTTHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, int64(time.Minute), 3) }

// rtts holds each benchmark run's histogram, keyed by its *testing.B, for
// measureOnce to collect: testing.Benchmark hands back only figures.
var rtts sync.Map

// rttHist returns a new histogram for b's round trips; the harness keeps
// the one of the run testing.Benchmark reports. A side resets it after its
// warm-up.
func rttHist(b *testing.B) *hdrhistogram.Histogram {
	h := newRTTHist()
	rtts.Store(b, h)
	return h
}

// reportP50 reports h's median as b's metric, in UnitP50RTT.
func reportP50(b *testing.B, h *hdrhistogram.Histogram) {
	b.ReportMetric(float64(h.ValueAtQuantile(50))/1e3, UnitP50RTT)
}

// Latency is a distribution of round trips, in µs.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p99_9_us"`
	Max   float64 `json:"max_us"`
	// Hist is the whole histogram (ns) in the HdrHistogram V2 compressed
	// encoding, which hdrhistogram.Decode and other HdrHistogram tools read.
	Hist string `json:"hdr_histogram"`
}

func latencyOf(h *hdrhistogram.Histogram) *Latency {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	us := func(p float64) float64 { return float64(h.ValueAtQuantile(p)) / 1e3 }
	l := &Latency{Count: h.TotalCount(), P50: us(50), P90: us(90), P99: us(99), P999: us(99.9), Max: float64(h.Max()) / 1e3}
	if enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err == nil {
		l.Hist = string(enc)
	}
	return l
}

// Histogram decodes l's histogram (ns), or returns nil.
func (l *Latency) Histogram() *hdrhistogram.Histogram {
	if l == nil || l.Hist == "" {
		return nil
	}
	h, err := hdrhistogram.Decode([]byte(l.Hist))
	if err != nil {
		return nil
	}
	return h
}
