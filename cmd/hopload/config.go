package main

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"
)

// Defaults of the flags, and of a zero Config where a zero would not do.
const (
	DefaultSize     = 64
	DefaultCount    = 10000
	DefaultDuration = 10 * time.Second
	DefaultTimeout  = time.Second
	DefaultProgress = time.Second
)

// Limits of the flags, so that a typo cannot ask for a gigabyte payload or
// a million senders.
const (
	MinSize        = headerLen // the payload carries run id, sender and sequence number
	MaxSize        = 1 << 20   // 1 MiB; a UDP route is further bounded by the datagram size
	MaxConcurrency = 1024
	MaxWindow      = 1024 // well under an app context's mailbox (engine.DefaultMailboxSize)
	MaxConnections = MaxConcurrency
	// MaxInFlight bounds what an open-loop run may have in flight over
	// all senders (--rate x --timeout): each request in flight is
	// remembered until its reply or its timeout.
	MaxInFlight = 1 << 22
)

// Config is one load run. Its zero value, with a Route, sends 64-byte
// payloads ping-pong from one sender until ctx ends.
type Config struct {
	// Route is where requests go: a route in wire's text form, e.g.
	// "1#127.0.0.1:4000 => echoer", or a multiaddr, e.g.
	// "/ip4/127.0.0.1/tcp/4000/service/echoer" or "/node/n1/service/echo"
	// (a /node is looked up in $HOPWIRE_HOME, as the hopwire command
	// does). Its first address must be a TCP or UDP address of the node
	// to load and its last one a service that sends every message back
	// unchanged.
	Route string
	// Size is the payload size in bytes, MinSize..MaxSize. 0 means
	// DefaultSize.
	Size int
	// Count is how many requests to send in all senders together;
	// 0 means no limit (Duration or ctx ends the run).
	Count uint64
	// Duration bounds the time requests are sent for; replies still in
	// flight then get up to Timeout. 0 means no limit.
	Duration time.Duration
	// Concurrency is the number of senders, each with an app context of
	// its own. 0 means 1.
	Concurrency int
	// Window is the number of requests each sender of a closed-loop run
	// keeps in flight: 1 is ping-pong, more is pipelined. 0 means 1. An
	// open-loop run (Rate) has no window: it must be 0 or 1 there.
	Window int
	// Rate makes the run open-loop: requests go out on a fixed schedule,
	// this many per second over all senders, whether or not replies have
	// come back, and each latency counts from the request's scheduled
	// time (see Result.Uncorrected). 0 means a closed loop: each sender
	// sends as fast as its Window allows.
	Rate float64
	// Connections is the number of TCP connections the senders are
	// spread over (sender i uses connection i mod Connections), at most
	// Concurrency. 0 means 1.
	Connections int
	// Warmup is left out of the latency and throughput figures: what is
	// sent (scheduled, in an open loop) in the run's first Warmup is
	// checked and counted but not measured. Duration and Count include
	// it.
	Warmup time.Duration
	// Timeout is how long a reply may take; a later one counts as lost
	// (and as late when it comes). 0 means DefaultTimeout.
	Timeout time.Duration
	// Progress is the interval of progress lines written to ProgressOut;
	// 0 or a nil ProgressOut means none.
	Progress    time.Duration
	ProgressOut io.Writer
	// Logger is the embedded node's logger; nil means discard.
	Logger *slog.Logger

	// holdSend, if set, is asked by a sender before it sends the request
	// with the given ticket; while it says true the send is held back,
	// as a full queue would hold it (tests plant a stall in it).
	holdSend func(ticket uint64) bool
}

// FlagError is a Config value out of range, named by its flag.
type FlagError struct {
	Flag   string
	Value  any
	Reason string
}

func (e *FlagError) Error() string {
	return fmt.Sprintf("--%s %v: %s", e.Flag, e.Value, e.Reason)
}

// withDefaults checks c and returns it with the zero values that mean a
// default replaced.
func (c Config) withDefaults() (Config, error) {
	if c.Size == 0 {
		c.Size = DefaultSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = 1
	}
	if c.Window == 0 {
		c.Window = 1
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Connections == 0 {
		c.Connections = 1
	}
	switch {
	case c.Route == "":
		return c, &FlagError{"to", `""`, "a route is required, e.g. --to '1#127.0.0.1:4000 => echoer'"}
	case c.Size < MinSize || c.Size > MaxSize:
		return c, &FlagError{"size", c.Size, fmt.Sprintf("must be between %d (the payload carries a %d-byte header) and %d", MinSize, headerLen, MaxSize)}
	case c.Concurrency < 0 || c.Concurrency > MaxConcurrency:
		return c, &FlagError{"concurrency", c.Concurrency, fmt.Sprintf("must be between 1 and %d", MaxConcurrency)}
	case c.Window < 0 || c.Window > MaxWindow:
		return c, &FlagError{"window", c.Window, fmt.Sprintf("must be between 1 and %d", MaxWindow)}
	case c.Duration < 0:
		return c, &FlagError{"duration", c.Duration, "must not be negative (0: no time limit)"}
	case c.Timeout < 0:
		return c, &FlagError{"timeout", c.Timeout, "must be positive"}
	case c.Progress < 0:
		return c, &FlagError{"progress", c.Progress, "must not be negative (0: off)"}
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return c, &FlagError{"rate", c.Rate, "must be a number of messages per second, or 0 for as fast as possible"}
	case c.Rate > 0 && c.Window > 1:
		return c, &FlagError{"window", c.Window, "limits a closed-loop run; with --rate requests go out on schedule whatever is in flight (leave --window out)"}
	case c.Rate > 0 && c.Rate*c.Timeout.Seconds() > MaxInFlight:
		return c, &FlagError{"rate", c.Rate, fmt.Sprintf("with --timeout %v could have %.0f requests in flight; at most %d", c.Timeout, c.Rate*c.Timeout.Seconds(), MaxInFlight)}
	case c.Connections < 0 || c.Connections > c.Concurrency:
		return c, &FlagError{"connections", c.Connections, fmt.Sprintf("must be between 1 and --concurrency (%d): each connection needs a sender", c.Concurrency)}
	case c.Warmup < 0:
		return c, &FlagError{"warmup", c.Warmup, "must not be negative (0: none)"}
	case c.Duration > 0 && c.Warmup >= c.Duration:
		return c, &FlagError{"warmup", c.Warmup, fmt.Sprintf("must be shorter than --duration %v, which includes it", c.Duration)}
	}
	return c, nil
}
