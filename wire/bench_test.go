package wire

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkHop measures the in-place hop on a 64 B and a 64 KiB payload:
// the cost must not depend on the payload size.
func BenchmarkHop(b *testing.B) {
	for _, size := range []int{64, 64 << 10} {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) { benchRewrites(b, size) })
	}
}

// benchRewrites runs 3 hops out, a turn, 3 hops back and a turn (8
// header rewrites) b.N times on one message with a payload of size.
func benchRewrites(b *testing.B, size int) {
	p := NewPool(0)
	m, _ := p.Build(MustParseRoute("h1=>h2=>h3=>echoer"), MustParseRoute("app"), make([]byte, size))
	defer m.Release()
	self, app := MustParseAddress("echoer"), MustParseAddress("app")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Hop()
		m.Hop()
		m.Hop()
		m.Turn(self)
		m.Hop()
		m.Hop()
		m.Hop()
		m.Turn(app)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(8*b.N), "ns/rewrite")
}

// BenchmarkUseCheck is BenchmarkHop's 64 B case with the use-after-release
// check as a production binary has it (off: a load of a global and a
// branch per accessor) and as test binaries have it (on), where
// BenchmarkHop runs. Compare check=off with BenchmarkHop of a build from
// before the check: the cost of the check in production.
func BenchmarkUseCheck(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("check=%v", on), func(b *testing.B) {
			defer func(was bool) { checkUse = was }(checkUse)
			checkUse = on
			benchRewrites(b, 64)
		})
	}
}

func BenchmarkBuildRelease(b *testing.B) {
	p := NewPool(0)
	on, ret := MustParseRoute("h1=>h2=>h3=>echoer"), MustParseRoute("app")
	payload := make([]byte, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m, _ := p.Build(on, ret, payload)
		m.Release()
	}
}

// BenchmarkTransportHop measures what a message's header goes through on a
// TCP hop and back: the sender's Step, the receiver's PrependReturn, the
// echo's Turn, and a Redirect that puts the transport address back.
func BenchmarkTransportHop(b *testing.B) {
	p := NewPool(0)
	m, _ := p.Build(MustParseRoute("1#127.0.0.1:4000=>echoer"), MustParseRoute("app"), make([]byte, 64))
	defer m.Release()
	conn := MustParseAddress("0#0123456789abcdef0123456789abcdef")
	self := MustParseAddress("echoer")
	via := Route{MustParseAddress("1#127.0.0.1:4000")}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m.Step()
		m.PrependReturn(conn)
		m.Turn(self)
		m.Redirect(via)
	}
}

// BenchmarkPoolLarge measures what pooling large buffers buys and costs:
// messages of 1, 4 and 16 MiB filled and released at a steady rate (two
// goroutines), with their buffer classes pooled (as the smaller ones
// are) or left to the garbage collector. Reported besides time: GC
// cycles per message, and the heap still held by the pool after the run
// once one and then two collections have run (sync.Pool keeps what it
// holds through one).
func BenchmarkPoolLarge(b *testing.B) {
	for _, size := range []int{1 << 20, 4 << 20, 16 << 20} {
		for _, pooled := range []bool{true, false} {
			mode := "pooled"
			if !pooled {
				mode = "unpooled"
			}
			b.Run(fmt.Sprintf("size=%dMiB/%s", size>>20, mode), func(b *testing.B) {
				p := NewPool(MaxFrameLimit)
				if pooled {
					p.topClass = numClasses - 1
				} else {
					p.topClass = classFor(Headroom+size) - 1
				}
				src := make([]byte, size)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						m, err := p.Alloc(size)
						if err != nil {
							panic(err)
						}
						copy(m.Raw(), src)
						m.Release()
					}
				})
				b.StopTimer()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.NumGC-before.NumGC)/float64(b.N), "GCs/op")
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "held-MiB-1GC")
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "held-MiB-2GC")
				runtime.KeepAlive(p)
				runtime.KeepAlive(src)
			})
		}
	}
}
