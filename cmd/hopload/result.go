package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/hopwire/hopwire/engine"
)

// Result is what a run measured. Sent = Received + Lost + Corrupt: every
// request is resolved one way.
type Result struct {
	Route       string  `json:"route"`
	Transport   string  `json:"transport"` // the first hop's: "tcp" or "udp"
	Size        int     `json:"size_bytes"`
	Concurrency int     `json:"concurrency"`
	Window      int     `json:"window"`
	Rate        float64 `json:"rate_target,omitempty"` // requests/s asked for; 0: as fast as possible
	TimeoutSec  float64 `json:"timeout_s"`

	Sent       uint64 `json:"sent"`
	Received   uint64 `json:"received"`    // replies back in time with the payload sent
	Lost       uint64 `json:"lost"`        // no reply within the timeout
	Late       uint64 `json:"late"`        // replies that came after their request was counted lost
	Duplicates uint64 `json:"duplicates"`  // second replies to one request
	Corrupt    uint64 `json:"corrupt"`     // replies whose payload differs from the request's
	Unexpected uint64 `json:"unexpected"`  // messages that answer no request of the run
	SendErrors uint64 `json:"send_errors"` // requests that could not be sent
	Refused    uint64 `json:"refused"`     // sends refused for backpressure and tried again (not errors)
	Errors     uint64 `json:"errors"`      // SendErrors + Corrupt + Duplicates + Unexpected

	ElapsedSec float64 `json:"elapsed_s"`
	MsgsPerSec float64 `json:"msgs_per_s"` // replies received per second
	MBPerSec   float64 `json:"mb_per_s"`   // payload megabytes (10^6) per second each way

	Latency Latency `json:"latency_us"` // round trips of the replies received

	Interrupted bool              `json:"interrupted,omitempty"` // ended by ctx (Ctrl-C)
	Error       string            `json:"error,omitempty"`       // what ended the run early, or the first error counted
	Stats       map[string]uint64 `json:"stats,omitempty"`       // the transport's and node's nonzero drop counters

	Elapsed   time.Duration           `json:"-"`
	Histogram *hdrhistogram.Histogram `json:"-"` // round trips in ns
	fatal     bool
}

// Latency is a distribution of round trips, in microseconds.
type Latency struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

func newResult(r *run, l *link, senders []*sender, elapsed time.Duration, interrupted bool) *Result {
	res := &Result{
		Route:       strings.TrimSpace(r.cfg.Route),
		Transport:   l.name,
		Size:        r.cfg.Size,
		Concurrency: r.cfg.Concurrency,
		Window:      r.cfg.Window,
		Rate:        r.cfg.Rate,
		TimeoutSec:  r.cfg.Timeout.Seconds(),
		Interrupted: interrupted,
		Elapsed:     elapsed,
		ElapsedSec:  elapsed.Seconds(),
		Histogram:   newHist(r.cfg.Timeout),
		Stats:       l.stats(),
	}
	for _, s := range senders {
		res.Sent += s.sent.Load()
		res.Received += s.received.Load()
		res.Lost += s.lost.Load()
		res.Late += s.late
		res.Duplicates += s.duplicates
		res.Corrupt += s.corrupt
		res.Unexpected += s.unexpected
		res.SendErrors += s.sendErrors
		res.Refused += s.refused
		res.Histogram.Merge(s.hist)
	}
	res.Errors = res.SendErrors + res.Corrupt + res.Duplicates + res.Unexpected
	if sec := elapsed.Seconds(); sec > 0 {
		res.MsgsPerSec = float64(res.Received) / sec
		res.MBPerSec = float64(res.Received) * float64(res.Size) / sec / 1e6
	}
	h := res.Histogram
	if h.TotalCount() > 0 {
		us := func(ns int64) float64 { return float64(ns) / 1e3 }
		res.Latency = Latency{
			Min:  us(h.Min()),
			Mean: h.Mean() / 1e3,
			P50:  us(h.ValueAtQuantile(50)),
			P90:  us(h.ValueAtQuantile(90)),
			P99:  us(h.ValueAtQuantile(99)),
			P999: us(h.ValueAtQuantile(99.9)),
			Max:  us(h.Max()),
		}
	}
	switch {
	case r.fatal != nil:
		res.Error, res.fatal = r.fatal.Error(), true
	case r.firstErr != nil:
		res.Error = r.firstErr.Error()
	}
	return res
}

func (res *Result) addNodeStats(s engine.Stats) {
	add := func(k string, v uint64) {
		if v != 0 {
			res.Stats[k] = v
		}
	}
	add("node_unknown_address", s.UnknownAddress)
	add("node_mailbox_full", s.MailboxFull)
	add("node_undeliverable", s.Undeliverable)
	add("node_denied", s.Denied)
}

// Err returns nil if every request came back in time, checked, with no
// error counted; otherwise an error that says what went wrong, in one
// line.
func (res *Result) Err() error {
	switch {
	case res.fatal:
		return fmt.Errorf("run aborted after %d requests: %s", res.Sent, res.Error)
	case res.Lost == 0 && res.Errors == 0:
		return nil
	}
	var parts []string
	if res.Lost > 0 {
		s := fmt.Sprintf("%d of %d requests lost (no reply within %v)", res.Lost, res.Sent, time.Duration(res.TimeoutSec*1e9))
		if res.Received == 0 && res.Corrupt == 0 {
			switch res.Transport {
			case "udp":
				s += ": nothing came back; is a node bound to UDP at the route's first address, and does the route end at an echo service it allows on that socket?"
			default:
				s += ": nothing came back; does the route end at an echo service the far node allows on its listener? (it drops messages for unknown or denied addresses)"
			}
		}
		parts = append(parts, s)
	}
	if res.Errors > 0 {
		s := fmt.Sprintf("%d errors (%d send, %d corrupt, %d duplicate, %d unexpected)",
			res.Errors, res.SendErrors, res.Corrupt, res.Duplicates, res.Unexpected)
		if res.Error != "" {
			s += "; first: " + res.Error
		}
		parts = append(parts, s)
	}
	return fmt.Errorf("%s", strings.Join(parts, "; "))
}

// WriteJSON writes res as one JSON object and a newline.
func (res *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // routes have "=>" in them
	return enc.Encode(res)
}

// WriteText writes res for a person to read.
func (res *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "route      %s (%s)\n", res.Route, res.Transport)
	fmt.Fprintf(&b, "load       %d-byte payloads, %d sender(s) x window %d", res.Size, res.Concurrency, res.Window)
	if res.Rate > 0 {
		fmt.Fprintf(&b, ", target %.0f msgs/s", res.Rate)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "requests   sent %d, received %d, lost %d, errors %d", res.Sent, res.Received, res.Lost, res.Errors)
	if res.Interrupted {
		b.WriteString(" (interrupted)")
	}
	b.WriteString("\n")
	if res.Late+res.Duplicates+res.Corrupt+res.Unexpected+res.SendErrors+res.Refused > 0 {
		fmt.Fprintf(&b, "anomalies  late %d, duplicate %d, corrupt %d, unexpected %d, send errors %d, refused and retried %d\n",
			res.Late, res.Duplicates, res.Corrupt, res.Unexpected, res.SendErrors, res.Refused)
	}
	fmt.Fprintf(&b, "throughput %.0f msgs/s, %.2f MB/s of payload each way, over %.3fs\n", res.MsgsPerSec, res.MBPerSec, res.ElapsedSec)
	if res.Received > 0 {
		l := res.Latency
		fmt.Fprintf(&b, "latency    p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (min %s, mean %s)\n",
			us(l.P50), us(l.P90), us(l.P99), us(l.P999), us(l.Max), us(l.Min), us(l.Mean))
	}
	if len(res.Stats) > 0 {
		keys := make([]string, 0, len(res.Stats))
		for k := range res.Stats {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteString("counters  ")
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%d", k, res.Stats[k])
		}
		b.WriteString("\n")
	}
	if res.Error != "" {
		fmt.Fprintf(&b, "error      %s\n", res.Error)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// us formats microseconds with a unit that keeps three figures or so.
func us(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fs", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2fms", v/1e3)
	default:
		return fmt.Sprintf("%.1fµs", v)
	}
}

// progressSnap is what the previous progress line saw.
type progressSnap struct {
	at       int64
	received uint64
}

// writeProgress writes one progress line and returns what it saw.
func writeProgress(r *run, senders []*sender, last progressSnap) progressSnap {
	now := r.now()
	var sent, received, lostN, errs uint64
	for _, s := range senders {
		sent += s.sent.Load()
		received += s.received.Load()
		lostN += s.lost.Load()
		errs += s.errs.Load()
	}
	rate := 0.0
	if dt := now - last.at; dt > 0 {
		rate = float64(received-last.received) / (float64(dt) / 1e9)
	}
	fmt.Fprintf(r.cfg.ProgressOut, "%7.1fs  sent %d  received %d  lost %d  errors %d  %.0f msgs/s\n",
		float64(now)/1e9, sent, received, lostN, errs, rate)
	return progressSnap{at: now, received: received}
}
