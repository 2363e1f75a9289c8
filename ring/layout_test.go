package ring

import (
	"testing"
	"unsafe"
)

// TestLayout guards the padding: fields written by different goroutines
// must be at least a cache line apart, and apart from the read-only ones.
func TestLayout(t *testing.T) {
	var m MPSC[int]
	var s SPSC[int]
	pairs := []struct {
		name string
		a, b uintptr
	}{
		{"MPSC mask..tail", unsafe.Offsetof(m.mask), unsafe.Offsetof(m.tail)},
		{"MPSC tail..head", unsafe.Offsetof(m.tail), unsafe.Offsetof(m.head)},
		{"MPSC head..end", unsafe.Offsetof(m.head), unsafe.Sizeof(m)},
		{"SPSC mask..head", unsafe.Offsetof(s.mask), unsafe.Offsetof(s.head)},
		{"SPSC tailCache..tail", unsafe.Offsetof(s.tailCache), unsafe.Offsetof(s.tail)},
		{"SPSC headCache..end", unsafe.Offsetof(s.headCache), unsafe.Sizeof(s)},
	}
	for _, p := range pairs {
		if p.b-p.a < cacheLine {
			t.Errorf("%s: %d bytes apart, want at least %d", p.name, p.b-p.a, cacheLine)
		}
	}
}

// TestClearsConsumedSlots checks that no popped value stays reachable from
// the ring.
func TestClearsConsumedSlots(t *testing.T) {
	v := new(int)
	dst := make([]*int, 4)

	m := NewMPSC[*int](4)
	for range 3 {
		m.Push(v)
	}
	m.Pop()
	m.PopBatch(dst)
	for i := range m.slots {
		if m.slots[i].val != nil {
			t.Errorf("MPSC slot %d still holds a popped value", i)
		}
	}

	s := NewSPSC[*int](4)
	for range 3 { // head at 3, so the batch below wraps
		s.Push(v)
		s.Pop()
	}
	s.PushBatch([]*int{v, v, v})
	s.Pop()
	s.PopBatch(dst)
	for i, p := range s.buf {
		if p != nil {
			t.Errorf("SPSC slot %d still holds a popped value", i)
		}
	}
}

// TestRoundCapacityLimits covers the top of the range, which the exported
// constructors would need gigabytes to show.
func TestRoundCapacityLimits(t *testing.T) {
	for _, c := range []struct{ in, want int }{
		{2, 2}, {3, 4}, {1<<29 + 1, 1 << 30}, {1<<30 - 1, 1 << 30}, {1 << 30, 1 << 30},
	} {
		if got := roundCapacity(c.in); got != uint64(c.want) {
			t.Errorf("roundCapacity(%d) = %d, want %d", c.in, got, c.want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("roundCapacity(1<<30+1) did not panic")
		}
	}()
	roundCapacity(1<<30 + 1)
}
