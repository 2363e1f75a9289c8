// Command hopload is hopwire's load generator: it sends requests to an
// echo service on a node and measures the round trips.
//
// A typical session starts a node with an echo service and a hop,
//
//	$ hopwire node run --name n1 --tcp-listen 127.0.0.1:4000 --echo echoer --hop hop
//	node n1 ready tcp=127.0.0.1:4000
//
// and, in another terminal, loads it through the hop with 32 requests in
// flight (a closed loop: each reply lets the next request go):
//
//	$ hopload --to '1#127.0.0.1:4000 => hop => echoer' --count 100000 --window 32
//	route      1#127.0.0.1:4000 => hop => echoer (tcp)
//	load       64-byte payloads, closed loop, 1 sender(s) x window 32
//	requests   sent 100000, received 100000, lost 0, errors 0
//	throughput 182265 msgs/s, 11.66 MB/s of payload each way, over 0.549s
//	latency    p50 157.2µs  p90 242.2µs  p99 360.7µs  p99.9 2.74ms  max 4.44ms  (min 46.4µs, mean 175.2µs)
//
// or at a fixed rate (an open loop: requests go out on schedule whatever
// comes back, and latency counts from when each was due, so a stall
// shows in every request it held up; the uncorrected figures, from the
// actual sends, are beside it for contrast):
//
//	$ hopload --to /ip4/127.0.0.1/tcp/4000/service/echoer --rate 10000 --count 0 --duration 10s
//	route      /ip4/127.0.0.1/tcp/4000/service/echoer = 1#127.0.0.1:4000 => 0#echoer (tcp)
//	load       64-byte payloads, open loop at 10000 msgs/s from 1 sender(s)
//	requests   sent 100000, received 100000, lost 0, errors 0
//	schedule   sent 10000 msgs/s of 10000 asked; 1055 sent late (over 1.00ms behind), max lag 7.65ms
//	throughput 9999 msgs/s, 0.64 MB/s of payload each way, over 10.001s
//	latency    p50 230.5µs  p90 474.6µs  p99 2.27ms  p99.9 6.23ms  max 10.72ms  (min 31.6µs, mean 309.5µs)
//	           (from the scheduled send times)
//	uncorrected p50 149.4µs  p90 348.2µs  p99 1.21ms  p99.9 4.12ms  max 10.67ms  (min 28.5µs, mean 208.6µs)
//	           (from the actual sends: blind to what could not be sent on time)
//
// with a progress line (rate, errors, p50/p99 so far) on stderr every
// second (figures vary by machine). --to also takes /node/NAME for a
// node made with hopwire node create. The exit status is 0 when every
// request came back in time and checked (and every one scheduled was
// sent), 1 otherwise. See hopload --help for the flags, and Run for the
// same from Go.
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
