package bench

import (
	"fmt"
	"testing"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// The baselines: the same pooled messages and the same in-place header
// work as the hopwire side, moved between goroutines by Go channels.

// chanPingPong returns a benchmark of b.N round trips of one
// payload-byte message between the benchmark goroutine and an echo
// goroutine over two buffered channels; each side turns the message round
// (wire.Message.Turn, as engine.Echo's Reply does) before it sends it
// back. Two hops a round, reported in ns/hop.
func chanPingPong(payload int) func(*testing.B) {
	return func(b *testing.B) {
		pool := wire.NewPool(0)
		self, echo := localRoute(b, "pinger"), localRoute(b, "echo")
		m, err := pool.Build(echo, self, make([]byte, payload))
		if err != nil {
			fatalf(b, "build: %v", err)
		}
		// One message is in flight at a time: a capacity of one is all
		// the buffering there can be.
		ping, pong := make(chan *wire.Message, 1), make(chan *wire.Message, 1)
		done := make(chan error, 1)
		go func() {
			var err error
			for m := range ping {
				if e := m.Turn(echo[0]); e != nil && err == nil {
					err = e
				}
				pong <- m
			}
			done <- err
		}()

		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			ping <- m
			m = <-pong
			if err := m.Turn(self[0]); err != nil {
				b.StopTimer()
				close(ping)
				<-done
				fatalf(b, "turn: %v", err)
			}
		}
		b.StopTimer()
		close(ping)
		err = <-done
		m.Release()
		if err != nil {
			fatalf(b, "echo goroutine: %v", err)
		}
		reportPerHop(b, 2)
	}
}

// chanChain returns the Go-channel baseline of a k-hop chain: the
// benchmark goroutine builds b.N 64 B pooled messages (wire.Pool.Build,
// as a source worker's Send does) into the first of k stage goroutines
// linked by buffered channels of a mailbox's capacity; each stage does the
// same in-place Hop and passes the message on; a sink goroutine releases
// them. Reported in msgs/s. A warm-up run on a pipeline of its own fills
// the pool first, as the hopwire side's warm-up does.
func chanChain(k int) func(*testing.B) { return chanChains(k, 1, 1) }

// chanChains returns the baseline of c independent k-hop chains: c
// pipelines as chanChain's, drawing on one pool, fed at once by the
// benchmark goroutine (the first) and c-1 goroutines (the others) with
// b.N messages in all, split evenly (the remainder to the first). The run
// ends when every pipeline has released its share. It reports the total
// rate in msgs/s, times over.
func chanChains(k, c, times int) func(*testing.B) {
	return func(b *testing.B) {
		pool := wire.NewPool(0)
		route := localRoute(b, append(hopNames(k), "sink")...)
		ret := localRoute(b, "source")
		payload := make([]byte, chainPayload)

		feed := func(p *pipeline, count int) error {
			for i := 0; i < count; i++ {
				m, err := pool.Build(route, ret, payload)
				if err != nil {
					p.close()
					return fmt.Errorf("build: %w", err)
				}
				p.in <- m
			}
			if err := p.close(); err != nil {
				return fmt.Errorf("stage: %w", err)
			}
			return nil
		}
		// feedAll feeds counts[i] messages into pipeline i, all at once,
		// and waits until every pipeline has released them.
		errs := make(chan error, c)
		feedAll := func(ps []*pipeline, counts []int) {
			for i := 1; i < c; i++ {
				go func() { errs <- feed(ps[i], counts[i]) }()
			}
			err := feed(ps[0], counts[0])
			for i := 1; i < c; i++ {
				if e := <-errs; e != nil && err == nil {
					err = e
				}
			}
			if err != nil {
				fatalf(b, "%v", err)
			}
		}
		warm := make([]int, c)
		for i := range warm {
			warm[i] = chainWarmup
		}
		feedAll(startPipelines(k, c), warm)
		ps, share := startPipelines(k, c), shares(b.N, c)

		b.ReportAllocs()
		b.ResetTimer()
		feedAll(ps, share)
		b.StopTimer()
		reportRateTimes(b, times)
	}
}

// startPipelines starts c pipelines of k stages.
func startPipelines(k, c int) []*pipeline {
	ps := make([]*pipeline, c)
	for i := range ps {
		ps[i] = startPipeline(k)
	}
	return ps
}

// pipeline is k Hop stages and a releasing sink, linked by channels.
type pipeline struct {
	in   chan<- *wire.Message
	done chan error // the sink's: the first stage error, once all is released
}

func startPipeline(k int) *pipeline {
	chans := make([]chan *wire.Message, k+1)
	for i := range chans {
		chans[i] = make(chan *wire.Message, engine.DefaultMailboxSize)
	}
	errs := make(chan error, k)
	for i := 0; i < k; i++ {
		in, out := chans[i], chans[i+1]
		go func() {
			var err error
			for m := range in {
				if e := m.Hop(); e != nil && err == nil {
					err = e
				}
				out <- m
			}
			errs <- err
			close(out)
		}()
	}
	p := &pipeline{in: chans[0], done: make(chan error, 1)}
	go func() {
		for m := range chans[k] {
			m.Release()
		}
		var err error
		for i := 0; i < k; i++ {
			if e := <-errs; e != nil && err == nil {
				err = e
			}
		}
		p.done <- err
	}()
	return p
}

// close closes the pipeline's input and waits until every message has
// been released and every goroutine is done with its work.
func (p *pipeline) close() error {
	close(p.in)
	return <-p.done
}
