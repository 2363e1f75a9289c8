package portal_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine/portal"
)

// BenchmarkWindow: the bulk stream through the portal with credit
// windows of 256 KiB to 4 MiB, beside direct in the same run: a bulk
// session is bound by window / round trip, not by CPU.
func BenchmarkWindow(b *testing.B) {
	size := bulkSize(64 << 20)
	for _, w := range []int{256 << 10, 1 << 20, 2 << 20, 4 << 20} {
		b.Run(strconv.Itoa(w>>10)+"KiB", func(b *testing.B) {
			srv, got := sink(b)
			p := newPair(b, srv.addr(), pairConfig{
				inlet:  portal.InletConfig{Window: w},
				outlet: portal.OutletConfig{Window: w},
			})
			var tp, td time.Duration
			for b.Loop() {
				tp += transfer(b, p.inlet.Addr(), size, got)
				td += transfer(b, srv.addr(), size, got)
			}
			mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
			b.ReportMetric(mbps(tp), "portal-MB/s")
			b.ReportMetric(mbps(tp)/mbps(td), "ratio")
		})
	}
}
