package ring_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hopwire/hopwire/ring"
)

// stressTimeout bounds every stress run; a lost or stuck value fails the
// test instead of hanging it.
const stressTimeout = 60 * time.Second

// stressItems is how many values each producer pushes.
func stressItems() int {
	n := 200_000
	if testing.Short() {
		n /= 10
	}
	if raceEnabled {
		n /= 4 // the race detector slows atomics about tenfold
	}
	return n
}

// item is wider than a word and carries a checksum, so a torn read of a
// half-written slot shows up as a bad check.
type item struct {
	producer int
	seq      int
	check    uint64
}

func mkItem(p, seq int) item {
	return item{p, seq, uint64(p)<<48 ^ uint64(seq)*0x9e3779b97f4a7c15}
}

func (it item) valid() bool { return it == mkItem(it.producer, it.seq) }

func TestMPSCStress(t *testing.T) {
	for _, capacity := range []int{2, 64, 1024} {
		t.Run(fmt.Sprintf("cap=%d", capacity), func(t *testing.T) {
			stressMPSC(t, capacity, 4, stressItems())
		})
	}
}

func stressMPSC(t *testing.T, capacity, producers, perProducer int) {
	r := ring.NewMPSC[item](capacity)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for p := range producers {
		if p%2 == 1 { // odd producers push in batches of up to 5
			wg.Go(func() {
				var out []item
				for seq := 0; seq < perProducer; {
					out = out[:0]
					for i := seq; i < min(seq+1+seq%5, perProducer); i++ {
						out = append(out, mkItem(p, i))
					}
					for len(out) > 0 {
						k := r.PushBatch(out)
						out, seq = out[k:], seq+k
						if k == 0 {
							if stop.Load() {
								return
							}
							runtime.Gosched()
						}
					}
				}
			})
			continue
		}
		wg.Go(func() {
			for seq := range perProducer {
				for !r.Push(mkItem(p, seq)) {
					if stop.Load() {
						return
					}
					runtime.Gosched()
				}
			}
		})
	}
	fail := func(format string, args ...any) {
		t.Helper()
		stop.Store(true)
		wg.Wait()
		t.Fatalf(format, args...)
	}

	next := make([]int, producers) // next seq expected from each producer
	batch := make([]item, 7)
	deadline := time.Now().Add(stressTimeout)
	total := producers * perProducer
	for got, round := 0, 0; got < total; round++ {
		n := 0
		if round%2 == 0 {
			if v, ok := r.Pop(); ok {
				batch[0], n = v, 1
			}
		} else {
			n = r.PopBatch(batch)
		}
		if n == 0 {
			if time.Now().After(deadline) {
				fail("timed out with %d of %d values received", got, total)
			}
			runtime.Gosched()
			continue
		}
		for _, it := range batch[:n] {
			if !it.valid() || it.producer < 0 || it.producer >= producers {
				fail("torn or corrupt value %+v", it)
			}
			if it.seq != next[it.producer] {
				fail("producer %d: got seq %d, want %d", it.producer, it.seq, next[it.producer])
			}
			next[it.producer]++
		}
		got += n
	}
	wg.Wait()
	for p, n := range next {
		if n != perProducer {
			t.Errorf("producer %d: received %d values, want %d", p, n, perProducer)
		}
	}
	if v, ok := r.Pop(); ok {
		t.Errorf("extra value %+v after all were received", v)
	}
	if r.Len() != 0 {
		t.Errorf("Len = %d after draining", r.Len())
	}
}

func TestSPSCStress(t *testing.T) {
	for _, capacity := range []int{2, 64, 1024} {
		t.Run(fmt.Sprintf("cap=%d", capacity), func(t *testing.T) {
			stressSPSC(t, capacity, 4*stressItems())
		})
	}
}

func stressSPSC(t *testing.T, capacity, total int) {
	r := ring.NewSPSC[item](capacity)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		src := make([]item, 0, 13)
		for seq := 0; seq < total; {
			// Alternate single pushes with batches of varying size.
			src = src[:0]
			for k := range min(seq%13+1, total-seq) {
				src = append(src, mkItem(0, seq+k))
			}
			var n int
			if len(src) == 1 || seq%3 == 0 {
				if r.Push(src[0]) {
					n = 1
				}
			} else {
				n = r.PushBatch(src)
			}
			seq += n
			if n == 0 {
				if stop.Load() {
					return
				}
				runtime.Gosched()
			}
		}
	})
	fail := func(format string, args ...any) {
		t.Helper()
		stop.Store(true)
		wg.Wait()
		t.Fatalf(format, args...)
	}

	batch := make([]item, 11)
	deadline := time.Now().Add(stressTimeout)
	for want, round := 0, 0; want < total; round++ {
		n := 0
		if round%2 == 0 {
			if v, ok := r.Pop(); ok {
				batch[0], n = v, 1
			}
		} else {
			n = r.PopBatch(batch[:round%len(batch)+1])
		}
		if n == 0 {
			if time.Now().After(deadline) {
				fail("timed out with %d of %d values received", want, total)
			}
			runtime.Gosched()
			continue
		}
		for _, it := range batch[:n] {
			if !it.valid() || it.seq != want {
				fail("got %+v, want seq %d", it, want)
			}
			want++
		}
	}
	wg.Wait()
	if v, ok := r.Pop(); ok {
		t.Errorf("extra value %+v after all were received", v)
	}
}
