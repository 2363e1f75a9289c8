package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Every request comes back, checked, whatever the senders and windows.
func TestEchoAllReceived(t *testing.T) {
	srv := startServer(t, false, nil)
	const count = 2000
	for _, route := range []string{"echoer", "hop => echoer"} {
		for _, conc := range []int{1, 4} {
			for _, window := range []int{1, 16} {
				name := fmt.Sprintf("%s/concurrency=%d/window=%d", route, conc, window)
				t.Run(name, func(t *testing.T) {
					res, err := load(t, Config{
						Route:       srv.route(route),
						Count:       count,
						Concurrency: conc,
						Window:      window,
					})
					if err != nil {
						t.Fatal(err)
					}
					checkBalance(t, res)
					if res.Sent != count || res.Received != count || res.Lost != 0 || res.Errors != 0 || res.Late != 0 {
						t.Fatalf("want all %d back:%s", count, describe(res))
					}
					if err := res.Err(); err != nil {
						t.Fatalf("Err() = %v", err)
					}
					if res.Latency.P50 <= 0 || res.Latency.Max < res.Latency.P999 || res.MsgsPerSec <= 0 {
						t.Errorf("figures do not add up:%s", describe(res))
					}
				})
			}
		}
	}
}

func TestUDP(t *testing.T) {
	srv := startServer(t, true, nil)
	res, err := load(t, Config{Route: "2#" + srv.addr + " => hop => echoer", Count: 500})
	if err != nil {
		t.Fatal(err)
	}
	checkBalance(t, res)
	if res.Transport != "udp" || res.Received != 500 || res.Lost != 0 || res.Errors != 0 {
		t.Fatalf("want all 500 back over udp:%s", describe(res))
	}
	var fe *FlagError
	if _, err := load(t, Config{Route: "2#" + srv.addr + " => echoer", Count: 1, Concurrency: 2, Connections: 2}); !errors.As(err, &fe) || fe.Flag != "connections" {
		t.Errorf("--connections over UDP: error %v, want a *FlagError", err)
	}
}

// Large payloads, pipelined. What is in flight (2 MiB) stays within the
// connections' queues (tcp.DefaultQueueBytes): past them a peer starved
// of CPU for longer than its tcp.Config.SendWait drops replies, as
// designed, and the test would measure the machine.
func TestLargePayloadsPipelined(t *testing.T) {
	srv := startServer(t, false, nil)
	res, err := load(t, Config{Route: srv.route("echoer"), Count: 400, Size: 64 << 10, Concurrency: 2, Window: 16})
	if err != nil {
		t.Fatal(err)
	}
	checkBalance(t, res)
	if res.Received != 400 || res.Lost != 0 || res.Errors != 0 {
		t.Fatalf("want all 400 back:%s", describe(res))
	}
}

func TestRateAndDurationBound(t *testing.T) {
	srv := startServer(t, false, nil)
	t.Run("rate", func(t *testing.T) {
		res, err := load(t, Config{Route: srv.route("echoer"), Count: 100, Rate: 2000, Concurrency: 2})
		if err != nil {
			t.Fatal(err)
		}
		checkBalance(t, res)
		if res.Received != 100 || res.Lost != 0 {
			t.Fatalf("want all 100 back:%s", describe(res))
		}
	})
	t.Run("duration", func(t *testing.T) {
		res, err := load(t, Config{Route: srv.route("echoer"), Duration: 100 * time.Millisecond, Rate: 1000})
		if err != nil {
			t.Fatal(err)
		}
		checkBalance(t, res)
		if res.Sent == 0 || res.Lost != 0 || res.Errors != 0 {
			t.Fatalf("want some sent, all back:%s", describe(res))
		}
	})
}

func TestUnreachableNode(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	res, err := load(t, Config{Route: "1#" + addr + " => echoer", Count: 10})
	if err == nil || res != nil {
		t.Fatalf("Run = %v, %v; want an error and no result", res, err)
	}
	if !strings.Contains(err.Error(), "cannot reach") || !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not say the node at %s cannot be reached", err, addr)
	}
}

func TestBadRoute(t *testing.T) {
	for _, text := range []string{
		"",
		"   ",
		"1#127.0.0.1:4000 =>",
		"1#127.0.0.1:4000 => => echoer",
		"300#x => echoer",
		"echoer",
		"1#127.0.0.1:4000",
		"9#somewhere => echoer",
		"2#localhost:4000 => echoer",
		"1#" + strings.Repeat("x", 300) + " => echoer",
	} {
		res, err := load(t, Config{Route: text, Count: 1})
		if err == nil || res != nil {
			t.Errorf("route %q: Run = %v, %v; want an error", text, res, err)
			continue
		}
		if !strings.Contains(err.Error(), "--to") {
			t.Errorf("route %q: error %q does not name --to", text, err)
		}
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Size: 8},
		{Size: MaxSize + 1},
		{Concurrency: -1},
		{Concurrency: MaxConcurrency + 1},
		{Window: MaxWindow + 1},
		{Timeout: -time.Second},
		{Rate: -1},
		{Duration: -1},
		{Rate: 100, Window: 2},
		{Rate: 1e7, Timeout: time.Second},
		{Connections: 2},
		{Connections: 3, Concurrency: 2},
		{Warmup: -1},
		{Duration: time.Second, Warmup: time.Second},
	} {
		cfg.Route = "1#127.0.0.1:4000 => echoer"
		var fe *FlagError
		if _, err := load(t, cfg); !errors.As(err, &fe) {
			t.Errorf("%+v: error %v, want a *FlagError", cfg, err)
		}
	}
}

// A far end that never replies: every request is lost, after the timeout.
func TestNoReplyIsLost(t *testing.T) {
	srv := startServer(t, false, services{"sink": sink})
	for _, window := range []int{1, 4} {
		res, err := load(t, Config{Route: srv.route("sink"), Count: 8, Window: window, Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		checkBalance(t, res)
		if res.Sent != 8 || res.Lost != 8 || res.Received != 0 || res.Errors != 0 {
			t.Fatalf("window %d: want 8 lost:%s", window, describe(res))
		}
		if err := res.Err(); err == nil || !strings.Contains(err.Error(), "8 of 8 requests lost") {
			t.Errorf("Err() = %v", err)
		}
	}
}

// Replies after their timeout are lost, and counted late when they come,
// not received.
func TestLateReplies(t *testing.T) {
	srv := startServer(t, false, services{"delayer": &delayer{}})
	res, err := load(t, Config{Route: srv.route("delayer"), Count: 5, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	checkBalance(t, res)
	// Each reply comes with the next request: the last one never.
	if res.Lost != 5 || res.Late != 4 || res.Received != 0 || res.Duplicates != 0 || res.Unexpected != 0 {
		t.Fatalf("want 5 lost, 4 of them late:%s", describe(res))
	}
}

// A second reply to a request is a duplicate, not a second receipt.
func TestDuplicateReplies(t *testing.T) {
	srv := startServer(t, false, services{"twice": twice})
	const count = 50
	res, err := load(t, Config{Route: srv.route("twice"), Count: count})
	if err != nil {
		t.Fatal(err)
	}
	checkBalance(t, res)
	// The last request's duplicate may come after the sender is done.
	if res.Received != count || res.Lost != 0 || res.Duplicates < count-1 || res.Duplicates > count || res.Errors != res.Duplicates {
		t.Fatalf("want %d received and as many duplicates:%s", count, describe(res))
	}
	if res.Err() == nil {
		t.Error("duplicates are errors, Err() = nil")
	}
}

func TestCorruptReplies(t *testing.T) {
	srv := startServer(t, false, services{"flip": flip})
	res, err := load(t, Config{Route: srv.route("flip"), Count: 20, Window: 4})
	if err != nil {
		t.Fatal(err)
	}
	checkBalance(t, res)
	if res.Corrupt != 20 || res.Received != 0 || res.Lost != 0 || res.Errors != 20 {
		t.Fatalf("want 20 corrupt:%s", describe(res))
	}
}

// Cancelling ctx ends a run that nothing else bounds, with its summary.
func TestInterrupt(t *testing.T) {
	srv := startServer(t, false, nil)
	for _, cfg := range []Config{
		{Route: srv.route("echoer"), Window: 4},
		{Route: srv.route("echoer"), Rate: 2000},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		progress := newSignalWriter()
		done := make(chan struct{})
		var res *Result
		var err error
		cfg.Progress, cfg.ProgressOut = 10*time.Millisecond, progress
		go func() {
			defer close(done)
			res, err = Run(ctx, cfg)
		}()
		<-progress.ch
		cancel()
		<-done
		if err != nil {
			t.Fatal(err)
		}
		checkBalance(t, res)
		if !res.Interrupted || res.Lost != 0 || res.Errors != 0 || res.Err() != nil {
			t.Fatalf("want an interrupted run, nothing lost:%s", describe(res))
		}
		if sc := res.Schedule; sc != nil && (sc.Unsent != 0 || sc.Scheduled < res.Sent) {
			t.Errorf("interrupted open loop: schedule %+v, sent %d", sc, res.Sent)
		}
		if !strings.Contains(progress.String(), "received") {
			t.Errorf("progress %q", progress.String())
		}
	}
}

// The node going away mid-run ends the run with an error, not a hang.
func TestNodeGoesAway(t *testing.T) {
	srv := startServer(t, false, nil)
	progress := newSignalWriter()
	done := make(chan struct{})
	var res *Result
	var err error
	go func() {
		defer close(done)
		res, err = load(t, Config{
			Route: srv.route("echoer"), Duration: guard / 2, Window: 4, Timeout: 200 * time.Millisecond,
			Progress: 10 * time.Millisecond, ProgressOut: progress,
		})
	}()
	<-progress.ch
	srv.node.Close()
	<-done
	if err == nil || res == nil || res.Error == "" {
		t.Fatalf("Run = %v; want an error and the result so far", err)
	}
	checkBalance(t, res)
	t.Logf("%v%s", err, describe(res))
}

// Per request, a run allocates next to nothing: the payload buffer is
// reused, messages are pooled (the pacer's wake-ups too), replies
// released.
func TestAllocsPerRequest(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	srv := startServer(t, false, nil)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"closed", Config{Route: srv.route("hop => echoer"), Window: 8}},
		// A rate the in-process server keeps up with on a busy machine:
		// past it, it drops replies to a client it finds slow to read.
		{"open", Config{Route: srv.route("hop => echoer"), Rate: 20000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mallocs := func(count uint64) uint64 {
				cfg := tc.cfg
				cfg.Count = count
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				res, err := load(t, cfg)
				runtime.ReadMemStats(&after)
				if err != nil {
					t.Fatalf("run of %d: %v", count, err)
				}
				if res.Received != count {
					t.Fatalf("run of %d:%s\nserver %+v", count, describe(res), srv.node.Stats())
				}
				return after.Mallocs - before.Mallocs
			}
			mallocs(1000) // warm the pools
			small, large := mallocs(1000), mallocs(11000)
			per := float64(int64(large)-int64(small)) / 10000
			t.Logf("%.3f allocations per request (client and server together)", per)
			if per > 0.5 {
				t.Errorf("%.3f allocations per request, want next to none", per)
			}
		})
	}
}
