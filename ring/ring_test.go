package ring_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hopwire/hopwire/ring"
)

// queue is the part of the API both rings share, so one test body covers
// both. SPSC's PushBatch is tested separately.
type queue interface {
	Push(int) bool
	Pop() (int, bool)
	PopBatch([]int) int
	Len() int
	Cap() int
}

var rings = []struct {
	name string
	make func(capacity int) queue
}{
	{"MPSC", func(c int) queue { return ring.NewMPSC[int](c) }},
	{"SPSC", func(c int) queue { return ring.NewSPSC[int](c) }},
}

func forEachRing(t *testing.T, f func(t *testing.T, newRing func(int) queue)) {
	for _, r := range rings {
		t.Run(r.name, func(t *testing.T) { f(t, r.make) })
	}
}

func TestCapacityRounding(t *testing.T) {
	cases := []struct{ in, want int }{
		{2, 2}, {3, 4}, {4, 4}, {5, 8}, {1000, 1024}, {1024, 1024}, {1025, 2048},
	}
	forEachRing(t, func(t *testing.T, newRing func(int) queue) {
		for _, c := range cases {
			if got := newRing(c.in).Cap(); got != c.want {
				t.Errorf("capacity %d: Cap() = %d, want %d", c.in, got, c.want)
			}
		}
	})
}

func TestBadCapacityPanics(t *testing.T) {
	forEachRing(t, func(t *testing.T, newRing func(int) queue) {
		for _, c := range []int{-1, 0, 1, 1<<30 + 1, 1 << 40} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("capacity %d: no panic", c)
					}
				}()
				newRing(c)
			}()
		}
	})
}

func TestFIFOFullEmpty(t *testing.T) {
	forEachRing(t, func(t *testing.T, newRing func(int) queue) {
		r := newRing(5) // rounds to 8
		if v, ok := r.Pop(); ok {
			t.Fatalf("Pop on new ring = %d, true", v)
		}
		for i := range 8 {
			if !r.Push(i) {
				t.Fatalf("Push(%d) = false with Len %d", i, r.Len())
			}
		}
		if r.Len() != 8 {
			t.Fatalf("Len = %d, want 8", r.Len())
		}
		if r.Push(99) {
			t.Fatal("Push on full ring = true")
		}
		for i := range 8 {
			v, ok := r.Pop()
			if !ok || v != i {
				t.Fatalf("Pop = %d, %v, want %d, true", v, ok, i)
			}
		}
		if v, ok := r.Pop(); ok {
			t.Fatalf("Pop on drained ring = %d, true", v)
		}
		if r.Len() != 0 {
			t.Fatalf("Len = %d, want 0", r.Len())
		}
	})
}

func TestWrapAround(t *testing.T) {
	forEachRing(t, func(t *testing.T, newRing func(int) queue) {
		r := newRing(4)
		next, want := 0, 0
		// Keep the ring partly full so head and tail sit mid-ring as
		// they cross the end, for many laps.
		for lap := range 1000 {
			for range 1 + lap%4 {
				if !r.Push(next) {
					break
				}
				next++
			}
			for range 1 + (lap+1)%3 {
				v, ok := r.Pop()
				if !ok {
					break
				}
				if v != want {
					t.Fatalf("lap %d: Pop = %d, want %d", lap, v, want)
				}
				want++
			}
		}
		if next < 1000 {
			t.Fatalf("only %d values pushed", next)
		}
	})
}

func TestPopBatchPartial(t *testing.T) {
	forEachRing(t, func(t *testing.T, newRing func(int) queue) {
		r := newRing(8)
		// Move head to 6 so the batch has to wrap.
		for i := range 6 {
			r.Push(i)
			r.Pop()
		}
		for i := range 5 {
			r.Push(10 + i)
		}
		dst := make([]int, 3)
		if n := r.PopBatch(dst); n != 3 || !slices.Equal(dst, []int{10, 11, 12}) {
			t.Fatalf("PopBatch = %d %v, want 3 [10 11 12]", n, dst)
		}
		dst = make([]int, 8)
		if n := r.PopBatch(dst); n != 2 || !slices.Equal(dst[:2], []int{13, 14}) {
			t.Fatalf("PopBatch = %d %v, want 2 [13 14]", n, dst[:n])
		}
		if n := r.PopBatch(dst); n != 0 {
			t.Fatalf("PopBatch on empty ring = %d", n)
		}
		if n := r.PopBatch(nil); n != 0 {
			t.Fatalf("PopBatch(nil) = %d", n)
		}
	})
}

func TestSPSCPushBatchPartial(t *testing.T) {
	r := ring.NewSPSC[int](8)
	for i := range 5 { // head and tail at 5: the batch wraps
		r.Push(i)
		r.Pop()
	}
	if n := r.PushBatch([]int{1, 2, 3, 4, 5, 6}); n != 6 {
		t.Fatalf("PushBatch = %d, want 6", n)
	}
	if n := r.PushBatch([]int{7, 8, 9, 10}); n != 2 {
		t.Fatalf("PushBatch into 2 free slots = %d, want 2", n)
	}
	if n := r.PushBatch([]int{11}); n != 0 {
		t.Fatalf("PushBatch on full ring = %d", n)
	}
	if n := r.PushBatch(nil); n != 0 {
		t.Fatalf("PushBatch(nil) = %d", n)
	}
	dst := make([]int, 10)
	if n := r.PopBatch(dst); n != 8 || !slices.Equal(dst[:n], []int{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("PopBatch = %d %v", n, dst[:n])
	}
}

// model is the slow, obvious reference the rings are checked against.
type model struct {
	vals []int
	cap  int
}

func (m *model) push(v int) bool {
	if len(m.vals) == m.cap {
		return false
	}
	m.vals = append(m.vals, v)
	return true
}

func (m *model) pop(n int) []int {
	n = min(n, len(m.vals))
	out := slices.Clone(m.vals[:n])
	m.vals = m.vals[n:]
	return out
}

// runOps drives both rings and the model with the operations encoded in
// ops and fails at the first difference.
func runOps(t *testing.T, capacity int, ops []byte) {
	mp := ring.NewMPSC[int](capacity)
	sp := ring.NewSPSC[int](capacity)
	m := &model{cap: mp.Cap()}
	next := 0
	dst := make([]int, 2*m.cap+1)
	for i, op := range ops {
		arg := int(op >> 2)
		switch op & 3 {
		case 0: // Push
			want := m.push(next)
			if got := mp.Push(next); got != want {
				t.Fatalf("op %d: MPSC.Push = %v, want %v", i, got, want)
			}
			if got := sp.Push(next); got != want {
				t.Fatalf("op %d: SPSC.Push = %v, want %v", i, got, want)
			}
			next++
		case 1: // Pop
			want := m.pop(1)
			for _, q := range []queue{mp, sp} {
				v, ok := q.Pop()
				if ok != (len(want) == 1) || ok && v != want[0] {
					t.Fatalf("op %d: %T.Pop = %d, %v, want %v", i, q, v, ok, want)
				}
			}
		case 2: // PopBatch
			n := arg % len(dst)
			want := m.pop(n)
			for _, q := range []queue{mp, sp} {
				got := q.PopBatch(dst[:n])
				if !slices.Equal(dst[:got], want) {
					t.Fatalf("op %d: %T.PopBatch(%d) = %v, want %v", i, q, n, dst[:got], want)
				}
			}
		case 3: // PushBatch on SPSC, a run of Push on MPSC
			n := arg % len(dst)
			src := make([]int, n)
			want := 0
			for j := range src {
				src[j] = next + j
				if m.push(src[j]) {
					want++
				}
			}
			next += n
			if got := sp.PushBatch(src); got != want {
				t.Fatalf("op %d: SPSC.PushBatch(%d) = %d, want %d", i, n, got, want)
			}
			for _, v := range src[:want] {
				if !mp.Push(v) {
					t.Fatalf("op %d: MPSC.Push = false, model has room", i)
				}
			}
		}
		for _, q := range []queue{mp, sp} {
			if q.Len() != len(m.vals) {
				t.Fatalf("op %d: %T.Len = %d, want %d", i, q, q.Len(), len(m.vals))
			}
		}
	}
}

func TestAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, capacity := range []int{2, 3, 8, 64} {
		ops := make([]byte, 20_000)
		for i := range ops {
			ops[i] = byte(rng.Uint32())
		}
		runOps(t, capacity, ops)
	}
}

func FuzzAgainstModel(f *testing.F) {
	f.Add(uint8(2), []byte{0, 0, 0, 1, 1, 1})
	f.Add(uint8(8), []byte{3 | 20<<2, 2 | 3<<2, 0, 3 | 7<<2, 2 | 16<<2, 1})
	f.Add(uint8(5), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2 | 4<<2, 3 | 9<<2})
	f.Fuzz(func(t *testing.T, capacity uint8, ops []byte) {
		runOps(t, max(2, int(capacity)), ops)
	})
}

// Ready says what the next Pop will do, across laps of the ring.
func TestMPSCReady(t *testing.T) {
	r := ring.NewMPSC[int](4)
	for lap := range 3 {
		if r.Ready() {
			t.Fatalf("lap %d: Ready on an empty ring", lap)
		}
		for i := range 3 {
			r.Push(i)
		}
		for i := range 3 {
			if !r.Ready() {
				t.Fatalf("lap %d: not Ready with %d queued", lap, 3-i)
			}
			if v, ok := r.Pop(); !ok || v != i {
				t.Fatalf("lap %d: Pop = %d, %v", lap, v, ok)
			}
		}
	}
	if r.Ready() {
		t.Fatal("Ready on a drained ring")
	}
}

// PushBatch appends what fits, in order, and says how much that was.
func TestMPSCPushBatch(t *testing.T) {
	r := ring.NewMPSC[int](8)
	if n := r.PushBatch([]int{0, 1, 2}); n != 3 {
		t.Fatalf("PushBatch into an empty ring = %d, want 3", n)
	}
	if n := r.PushBatch([]int{3, 4, 5, 6, 7, 8, 9}); n != 5 {
		t.Fatalf("PushBatch of 7 with room for 5 = %d", n)
	}
	if n := r.PushBatch([]int{99}); n != 0 {
		t.Fatalf("PushBatch into a full ring = %d", n)
	}
	for lap := range 3 {
		dst := make([]int, 3)
		if n := r.PopBatch(dst); n != 3 {
			t.Fatalf("lap %d: PopBatch = %d", lap, n)
		}
		if n := r.PushBatch([]int{10, 11, 12, 13}); n != 3 {
			t.Fatalf("lap %d: PushBatch with room for 3 = %d", lap, n)
		}
		for range 5 {
			r.Pop()
		}
		for range 3 {
			r.Pop()
		}
		if r.Len() != 0 {
			t.Fatalf("lap %d: Len %d after draining", lap, r.Len())
		}
		r.PushBatch([]int{0, 1, 2, 3, 4, 5, 6, 7})
	}
	for want := range 8 {
		if v, ok := r.Pop(); !ok || v != want {
			t.Fatalf("Pop = %d, %v, want %d", v, ok, want)
		}
	}
}
