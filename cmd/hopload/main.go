// Command hopload is hopwire's load generator: it sends requests along a
// route to an echo service on a node and measures the round trips.
//
// A typical session starts a node with an echo service and a hop,
//
//	$ hopwire node run --name n1 --tcp-listen 127.0.0.1:0 --echo echoer --hop hop
//	node n1 ready tcp=127.0.0.1:37091
//
// and, in another terminal, loads it through the hop with 32 requests in
// flight:
//
//	$ hopload --to '1#127.0.0.1:37091 => hop => echoer' --count 100000 --window 32
//	route      1#127.0.0.1:37091 => hop => echoer (tcp)
//	load       64-byte payloads, 1 sender(s) x window 32
//	requests   sent 100000, received 100000, lost 0, errors 0
//	throughput 189714 msgs/s, 12.14 MB/s of payload each way, over 0.527s
//	latency    p50 150.7µs  p90 256.9µs  p99 432.1µs  p99.9 2.51ms  max 11.87ms  (min 29.1µs, mean 168.5µs)
//
// with a progress line on stderr every second of a longer run
// (figures vary by machine). The exit status is 0 when every request came
// back in time and checked, 1 otherwise. See hopload --help for the flags,
// and Run for the same from Go.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	err := newCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hopload:", err)
		os.Exit(1)
	}
}
