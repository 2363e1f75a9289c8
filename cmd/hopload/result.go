package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// Result is what a run measured. Sent = Received + Lost + Corrupt: every
// request is resolved one way.
type Result struct {
	Route         string  `json:"route"`                    // as given (--to)
	ResolvedRoute string  `json:"resolved_route,omitempty"` // the route a multiaddr named
	Transport     string  `json:"transport"`                // the first hop's: "tcp" or "udp"
	Mode          string  `json:"mode"`                     // "open" (Rate: on a schedule) or "closed" (Window)
	Size          int     `json:"size_bytes"`
	Concurrency   int     `json:"concurrency"`
	Connections   int     `json:"connections"`
	Window        int     `json:"window,omitempty"`      // closed loop
	Rate          float64 `json:"rate_target,omitempty"` // open loop: requests/s asked for
	TimeoutSec    float64 `json:"timeout_s"`
	WarmupSec     float64 `json:"warmup_s,omitempty"`

	Sent       uint64 `json:"sent"`
	Received   uint64 `json:"received"`    // replies back in time with the payload sent
	Lost       uint64 `json:"lost"`        // no reply within the timeout
	Late       uint64 `json:"late"`        // replies that came after their request was counted lost
	Duplicates uint64 `json:"duplicates"`  // second replies to one request
	Corrupt    uint64 `json:"corrupt"`     // replies whose payload differs from the request's
	Unexpected uint64 `json:"unexpected"`  // messages that answer no request of the run
	SendErrors uint64 `json:"send_errors"` // requests that could not be sent
	Refused    uint64 `json:"refused"`     // sends refused for backpressure and tried again (not errors)
	Bounced    uint64 `json:"bounced"`     // requests dropped on their way out of hopload's node (counted lost too)
	Errors     uint64 `json:"errors"`      // SendErrors + Corrupt + Duplicates + Unexpected
	Measured   uint64 `json:"measured"`    // replies in the latency and throughput figures: those after the warm-up

	// Schedule is how an open-loop run kept to its schedule.
	Schedule *Schedule `json:"schedule,omitempty"`

	ElapsedSec float64 `json:"elapsed_s"`
	MsgsPerSec float64 `json:"msgs_per_s"` // measured replies per second after the warm-up
	MBPerSec   float64 `json:"mb_per_s"`   // payload megabytes (10^6) per second each way, the same

	// Latency is the distribution of the measured round trips: in an
	// open loop from each request's scheduled send time (wrk2's
	// correction), so a stall of the sender shows; in a closed loop from
	// its send.
	Latency Latency `json:"latency_us"`
	// Uncorrected is, in an open loop, the same from each request's
	// actual send, for contrast: it hides what the sender could not
	// send in time.
	Uncorrected *Latency `json:"uncorrected_latency_us,omitempty"`

	Interrupted bool              `json:"interrupted,omitempty"` // ended by ctx (Ctrl-C)
	Error       string            `json:"error,omitempty"`       // what ended the run early, or the first error counted
	Stats       map[string]uint64 `json:"stats,omitempty"`       // the transport's and node's nonzero drop counters

	Elapsed              time.Duration           `json:"-"`
	Histogram            *hdrhistogram.Histogram `json:"-"` // Latency's round trips in ns
	UncorrectedHistogram *hdrhistogram.Histogram `json:"-"` // Uncorrected's, or nil
	fatal                bool
}

// Schedule is how an open-loop run kept to its schedule.
type Schedule struct {
	Scheduled  uint64  `json:"scheduled"`     // requests due before the run's end
	Unsent     uint64  `json:"unsent"`        // of those, never sent: the sender fell more than the timeout behind
	SentPerSec float64 `json:"sent_per_s"`    // requests sent per second of the sending
	LateSends  uint64  `json:"late_sends"`    // requests sent more than LateAfter behind their time
	LateAfter  float64 `json:"late_after_us"` // lateSend
	MaxLag     float64 `json:"max_lag_us"`    // the furthest behind its time a request went out
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

func latencyOf(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	return Latency{
		Min:  us(h.Min()),
		Mean: h.Mean() / 1e3,
		P50:  us(h.ValueAtQuantile(50)),
		P90:  us(h.ValueAtQuantile(90)),
		P99:  us(h.ValueAtQuantile(99)),
		P999: us(h.ValueAtQuantile(99.9)),
		Max:  us(h.Max()),
	}
}

func newResult(r *run, route wire.Route, l *link, senders []*sender, elapsed time.Duration, interrupted bool) *Result {
	res := &Result{
		Route:       strings.TrimSpace(r.cfg.Route),
		Transport:   l.name,
		Mode:        "closed",
		Size:        r.cfg.Size,
		Concurrency: r.cfg.Concurrency,
		Connections: r.cfg.Connections,
		Window:      r.cfg.Window,
		TimeoutSec:  r.cfg.Timeout.Seconds(),
		WarmupSec:   r.cfg.Warmup.Seconds(),
		Interrupted: interrupted,
		Elapsed:     elapsed,
		ElapsedSec:  elapsed.Seconds(),
		Stats:       l.stats(),
	}
	if strings.HasPrefix(res.Route, "/") {
		res.ResolvedRoute = route.String()
	}
	res.Histogram = hdrhistogram.New(1, senders[0].histMax, 3)
	open := r.interval > 0
	var lastSend int64
	if open {
		res.Mode, res.Window, res.Rate = "open", 0, r.cfg.Rate
		res.UncorrectedHistogram = newHist(r.cfg.Timeout)
		res.Schedule = &Schedule{LateAfter: float64(lateSend) / 1e3}
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
		res.Bounced += s.bounced
		res.Measured += s.measured
		res.Histogram.Merge(s.hist)
		lastSend = max(lastSend, s.lastSend)
		if open {
			res.UncorrectedHistogram.Merge(s.uncorrected)
			res.Schedule.LateSends += s.lateSends.Load()
			res.Schedule.MaxLag = max(res.Schedule.MaxLag, float64(s.maxLag)/1e3)
		}
	}
	res.Errors = res.SendErrors + res.Corrupt + res.Duplicates + res.Unexpected
	if sec := (elapsed - r.cfg.Warmup).Seconds(); sec > 0 {
		res.MsgsPerSec = float64(res.Measured) / sec
		res.MBPerSec = float64(res.Measured) * float64(res.Size) / sec / 1e6
	}
	res.Latency = latencyOf(res.Histogram)
	if open {
		u := latencyOf(res.UncorrectedHistogram)
		res.Uncorrected = &u
		sc := res.Schedule
		sc.Scheduled = r.scheduled()
		if r.fatal == nil && !interrupted && sc.Scheduled > res.Sent+res.SendErrors {
			sc.Unsent = sc.Scheduled - res.Sent - res.SendErrors
		}
		// The last request has its interval too: on time, this is the rate.
		if span := float64(lastSend) + r.interval; res.Sent > 0 {
			sc.SentPerSec = float64(res.Sent) / (span / 1e9)
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

// scheduled returns how many requests of an open loop were due before its
// end: Count, or those due before Duration or the interruption.
func (r *run) scheduled() uint64 {
	end := r.sendUntil
	if t := r.stoppedAt.Load(); t > 0 {
		end = min(end, t)
	}
	n := uint64(math.MaxUint64)
	if end != math.MaxInt64 {
		n = uint64(math.Ceil(float64(end) / r.interval))
		for n > 0 && r.due(n-1) >= end {
			n--
		}
		for r.due(n) < end {
			n++
		}
	}
	if r.cfg.Count > 0 {
		n = min(n, r.cfg.Count)
	}
	return n
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
// error counted and, in an open loop, every scheduled request was sent;
// otherwise an error that says what went wrong, in one line.
func (res *Result) Err() error {
	var unsent uint64
	if res.Schedule != nil {
		unsent = res.Schedule.Unsent
	}
	switch {
	case res.fatal:
		return fmt.Errorf("run aborted after %d requests: %s", res.Sent, res.Error)
	case res.Lost == 0 && res.Errors == 0 && unsent == 0:
		if res.Measured == 0 && res.Received > 0 && res.WarmupSec > 0 {
			return fmt.Errorf("nothing measured: every reply was to a request of the %v warm-up (raise --count or --duration)", time.Duration(res.WarmupSec*1e9))
		}
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
	if unsent > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d scheduled requests never sent: hopload fell more than --timeout behind the --rate", unsent, res.Schedule.Scheduled))
	}
	return fmt.Errorf("%s", strings.Join(parts, "; "))
}

// WriteJSON writes res as one JSON object and a newline.
func (res *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // routes have "=>" in them
	return enc.Encode(res)
}

// WriteHistogram writes the measured latencies (Histogram) as the HDR
// percentile distribution text, values in milliseconds, which
// HdrHistogram's plotter reads.
func (res *Result) WriteHistogram(w io.Writer) error {
	_, err := res.Histogram.PercentilesPrint(w, 5, 1e6)
	return err
}

// WriteText writes res for a person to read.
func (res *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	if res.ResolvedRoute != "" {
		fmt.Fprintf(&b, "route      %s = %s (%s)\n", res.Route, res.ResolvedRoute, res.Transport)
	} else {
		fmt.Fprintf(&b, "route      %s (%s)\n", res.Route, res.Transport)
	}
	fmt.Fprintf(&b, "load       %d-byte payloads, ", res.Size)
	if res.Mode == "open" {
		fmt.Fprintf(&b, "open loop at %.0f msgs/s from %d sender(s)", res.Rate, res.Concurrency)
	} else {
		fmt.Fprintf(&b, "closed loop, %d sender(s) x window %d", res.Concurrency, res.Window)
	}
	if res.Connections > 1 {
		fmt.Fprintf(&b, " over %d connections", res.Connections)
	}
	if res.WarmupSec > 0 {
		fmt.Fprintf(&b, ", %v warm-up not measured", time.Duration(res.WarmupSec*1e9))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "requests   sent %d, received %d, lost %d, errors %d", res.Sent, res.Received, res.Lost, res.Errors)
	if res.Interrupted {
		b.WriteString(" (interrupted)")
	}
	b.WriteString("\n")
	if res.Late+res.Duplicates+res.Corrupt+res.Unexpected+res.SendErrors+res.Refused+res.Bounced > 0 {
		fmt.Fprintf(&b, "anomalies  late %d, duplicate %d, corrupt %d, unexpected %d, send errors %d, bounced %d, refused and retried %d\n",
			res.Late, res.Duplicates, res.Corrupt, res.Unexpected, res.SendErrors, res.Bounced, res.Refused)
	}
	if sc := res.Schedule; sc != nil {
		fmt.Fprintf(&b, "schedule   sent %.0f msgs/s of %.0f asked; %d sent late (over %s behind), max lag %s",
			sc.SentPerSec, res.Rate, sc.LateSends, us(sc.LateAfter), us(sc.MaxLag))
		if sc.Unsent > 0 {
			fmt.Fprintf(&b, "; %d of %d never sent", sc.Unsent, sc.Scheduled)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "throughput %.0f msgs/s, %.2f MB/s of payload each way, over %.3fs", res.MsgsPerSec, res.MBPerSec, res.ElapsedSec)
	if res.WarmupSec > 0 {
		fmt.Fprintf(&b, " (%d measured after the warm-up)", res.Measured)
	}
	b.WriteString("\n")
	if res.Measured > 0 {
		writeLatency(&b, "latency   ", res.Latency)
		if res.Uncorrected != nil {
			b.WriteString("           (from the scheduled send times)\n")
			writeLatency(&b, "uncorrected", *res.Uncorrected)
			b.WriteString("           (from the actual sends: blind to what could not be sent on time)\n")
		}
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

func writeLatency(b *strings.Builder, label string, l Latency) {
	fmt.Fprintf(b, "%s p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (min %s, mean %s)\n",
		label, us(l.P50), us(l.P90), us(l.P99), us(l.P999), us(l.Max), us(l.Min), us(l.Mean))
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

// progressLine is what the progress lines keep between them; the
// supervisor's alone.
type progressLine struct {
	at       int64
	received uint64
	hist     *hdrhistogram.Histogram // the senders' merged, redone each line
}

// write writes one progress line: counts so far, the reply rate since
// the last line, the latency so far.
func (p *progressLine) write(r *run, senders []*sender) {
	now := r.now()
	var sent, received, lostN, errs, late uint64
	if p.hist == nil {
		p.hist = hdrhistogram.New(1, senders[0].histMax, 3)
	}
	p.hist.Reset()
	for _, s := range senders {
		sent += s.sent.Load()
		received += s.received.Load()
		lostN += s.lost.Load()
		errs += s.errs.Load()
		late += s.lateSends.Load()
		s.mu.Lock()
		p.hist.Merge(s.hist)
		s.mu.Unlock()
	}
	rate := 0.0
	if dt := now - p.at; dt > 0 {
		rate = float64(received-p.received) / (float64(dt) / 1e9)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%7.1fs  sent %d  received %d  lost %d  errors %d", float64(now)/1e9, sent, received, lostN, errs)
	if r.interval > 0 {
		fmt.Fprintf(&b, "  late %d", late)
	}
	fmt.Fprintf(&b, "  %.0f msgs/s", rate)
	if p.hist.TotalCount() > 0 {
		fmt.Fprintf(&b, "  p50 %s  p99 %s", us(float64(p.hist.ValueAtQuantile(50))/1e3), us(float64(p.hist.ValueAtQuantile(99))/1e3))
	}
	if now < r.warmup {
		b.WriteString("  (warming up)")
	}
	b.WriteString("\n")
	_, _ = io.WriteString(r.cfg.ProgressOut, b.String())
	p.at, p.received = now, received
}
