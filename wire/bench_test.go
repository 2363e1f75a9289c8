package wire

import (
	"fmt"
	"testing"
)

// BenchmarkHop measures the in-place hop on a 64 B and a 64 KiB payload:
// the cost must not depend on the payload size.
func BenchmarkHop(b *testing.B) {
	for _, size := range []int{64, 64 << 10} {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) {
			p := NewPool(0)
			on := MustParseRoute("h1=>h2=>h3=>echoer")
			m, _ := p.Build(on, MustParseRoute("app"), make([]byte, size))
			defer m.Release()
			self, app := MustParseAddress("echoer"), MustParseAddress("app")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// 3 hops out, turn, 3 hops back, turn: 8 header rewrites.
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
