package ring_test

import (
	"runtime"
	"testing"

	"github.com/hopwire/hopwire/ring"
)

// benchCap is the capacity of every ring and channel benchmarked, so the
// channel baseline is like for like.
const benchCap = 1024

// reportRate adds messages per second, the figure the router cares about.
func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkMPSCPushPop(b *testing.B) {
	r := ring.NewMPSC[*msg](benchCap)
	m := &msg{}
	b.ReportAllocs()
	for b.Loop() {
		r.Push(m)
		r.Pop()
	}
}

func BenchmarkMPSCPushPopBatch(b *testing.B) {
	const batch = 64
	r := ring.NewMPSC[*msg](benchCap)
	m := &msg{}
	dst := make([]*msg, batch)
	b.ReportAllocs()
	for b.Loop() {
		for range batch {
			r.Push(m)
		}
		r.PopBatch(dst)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/msg")
}

// BenchmarkMPSCContended pushes from GOMAXPROCS goroutines while one
// consumer pops; ns/op is per message.
func BenchmarkMPSCContended(b *testing.B) {
	r := ring.NewMPSC[*msg](benchCap)
	n := b.N
	done := make(chan struct{})
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		defer close(done)
		for got := 0; got < n; {
			if _, ok := r.Pop(); ok {
				got++
			} else {
				runtime.Gosched()
			}
		}
	}()
	b.RunParallel(func(pb *testing.PB) {
		m := &msg{}
		for pb.Next() {
			for !r.Push(m) {
				runtime.Gosched()
			}
		}
	})
	<-done // the producers pushed exactly b.N, so this returns
	reportRate(b)
}

// BenchmarkSPSCThroughput streams messages from one goroutine to another.
func BenchmarkSPSCThroughput(b *testing.B) {
	r := ring.NewSPSC[*msg](benchCap)
	m := &msg{}
	n := b.N // the producer must not read b.N, which testing rewrites
	done := make(chan struct{})
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		defer close(done)
		for range n {
			for !r.Push(m) {
				runtime.Gosched()
			}
		}
	}()
	for got := 0; got < n; {
		if _, ok := r.Pop(); ok {
			got++
		} else {
			runtime.Gosched()
		}
	}
	<-done
	reportRate(b)
}

// BenchmarkSPSCThroughputBatch is BenchmarkSPSCThroughput with both sides
// moving up to 64 messages per call, as an event loop draining its
// mailbox would.
func BenchmarkSPSCThroughputBatch(b *testing.B) {
	const batch = 64
	r := ring.NewSPSC[*msg](benchCap)
	src := make([]*msg, batch)
	for i := range src {
		src[i] = &msg{}
	}
	dst := make([]*msg, batch)
	total := b.N // the producer must not read b.N, which testing rewrites
	done := make(chan struct{})
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		defer close(done)
		for sent := 0; sent < total; {
			n := r.PushBatch(src[:min(batch, total-sent)])
			if n == 0 {
				runtime.Gosched()
			}
			sent += n
		}
	}()
	for got := 0; got < total; {
		n := r.PopBatch(dst)
		if n == 0 {
			runtime.Gosched()
		}
		got += n
	}
	<-done
	reportRate(b)
}

// BenchmarkChanBaseline measures a buffered channel of the same capacity
// in the same three shapes, for comparison.
func BenchmarkChanBaseline(b *testing.B) {
	b.Run("PushPop", func(b *testing.B) {
		ch := make(chan *msg, benchCap)
		m := &msg{}
		b.ReportAllocs()
		for b.Loop() {
			ch <- m
			<-ch
		}
	})
	b.Run("Contended", func(b *testing.B) {
		ch := make(chan *msg, benchCap)
		done := make(chan struct{})
		b.ReportAllocs()
		b.ResetTimer()
		n := b.N
		go func() {
			defer close(done)
			for range n {
				<-ch
			}
		}()
		b.RunParallel(func(pb *testing.PB) {
			m := &msg{}
			for pb.Next() {
				ch <- m
			}
		})
		<-done
		reportRate(b)
	})
	b.Run("Throughput", func(b *testing.B) {
		ch := make(chan *msg, benchCap)
		m := &msg{}
		n := b.N
		done := make(chan struct{})
		b.ReportAllocs()
		b.ResetTimer()
		go func() {
			defer close(done)
			for range n {
				ch <- m
			}
		}()
		for range n {
			<-ch
		}
		<-done
		reportRate(b)
	})
}
