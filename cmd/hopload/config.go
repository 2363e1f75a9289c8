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
)

// Config is one load run. Its zero value, with a Route, sends 64-byte
// payloads ping-pong from one sender until ctx ends.
type Config struct {
	// Route is where requests go, in wire's text form, e.g.
	// "1#127.0.0.1:4000 => echoer". Its first address must be a TCP
	// (1#host:port) or UDP (2#ip:port) address of the node to load and
	// its last one a service that sends every message back unchanged.
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
	// Window is the number of requests each sender keeps in flight: 1 is
	// ping-pong, more is pipelined. 0 means 1.
	Window int
	// Rate is the target of requests per second over all senders; 0 means
	// as fast as replies come back.
	Rate float64
	// Timeout is how long a reply may take; a later one counts as lost
	// (and as late when it comes). 0 means DefaultTimeout.
	Timeout time.Duration
	// Progress is the interval of progress lines written to ProgressOut;
	// 0 or a nil ProgressOut means none.
	Progress    time.Duration
	ProgressOut io.Writer
	// Logger is the embedded node's logger; nil means discard.
	Logger *slog.Logger
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
	}
	return c, nil
}
