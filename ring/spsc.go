package ring

import "sync/atomic"

// SPSC is a bounded, lock-free FIFO ring for a single producer and a
// single consumer.
//
// The producer writes a slot and then publishes it by storing tail; the
// consumer reads and clears a slot and then hands it back by storing head.
// Each side keeps a private copy of the other side's index and reloads it
// only when the copy says the ring is full (producer) or empty (consumer),
// so in steady state neither side touches the other's cache line.
//
// The zero value is not usable; create rings with NewSPSC.
type SPSC[T any] struct {
	// buf and mask are read-only after NewSPSC.
	buf  []T
	mask uint64

	_ pad
	// Consumer's line.
	//
	// head is the next position to pop. Only the consumer writes it.
	head atomic.Uint64
	// tailCache is the consumer's last view of tail: at least
	// tailCache-head values are ready. Only the consumer uses it.
	tailCache uint64

	_ pad
	// Producer's line.
	//
	// tail is the next position to fill. Only the producer writes it.
	tail atomic.Uint64
	// headCache is the producer's last view of head: at least
	// cap-(tail-headCache) slots are free. Only the producer uses it.
	headCache uint64
	_         pad
}

// NewSPSC returns an empty ring holding up to capacity values, rounded up
// to a power of two. It panics if capacity is less than 2 or greater than
// 1<<30.
func NewSPSC[T any](capacity int) *SPSC[T] {
	size := roundCapacity(capacity)
	return &SPSC[T]{
		buf:  make([]T, size),
		mask: size - 1,
	}
}

// Push appends v to the ring. It returns false, and does not store v, if
// the ring is full.
//
// Push must only be called by the single producer. It never blocks and
// does not allocate.
func (r *SPSC[T]) Push(v T) bool {
	tail := r.tail.Load()
	if tail-r.headCache == r.mask+1 {
		r.headCache = r.head.Load()
		if tail-r.headCache == r.mask+1 {
			return false
		}
	}
	r.buf[tail&r.mask] = v
	r.tail.Store(tail + 1)
	return true
}

// PushBatch appends as many values from the start of src as fit and
// returns how many it appended. A single store publishes them all.
//
// PushBatch must only be called by the single producer. It never blocks
// and does not allocate.
func (r *SPSC[T]) PushBatch(src []T) int {
	tail := r.tail.Load()
	size := r.mask + 1
	free := size - (tail - r.headCache)
	if free < uint64(len(src)) {
		r.headCache = r.head.Load()
		free = size - (tail - r.headCache)
	}
	n := min(uint64(len(src)), free)
	if n == 0 {
		return 0
	}
	// At most two copies: up to the end of buf, then from its start.
	c := copy(r.buf[tail&r.mask:], src[:n])
	copy(r.buf, src[c:n])
	r.tail.Store(tail + n)
	return int(n)
}

// Pop removes and returns the oldest value. It returns ok == false if the
// ring is empty.
//
// Pop must only be called by the single consumer. It does not allocate.
func (r *SPSC[T]) Pop() (v T, ok bool) {
	head := r.head.Load()
	if head == r.tailCache {
		r.tailCache = r.tail.Load()
		if head == r.tailCache {
			return v, false
		}
	}
	i := head & r.mask
	v = r.buf[i]
	var zero T
	r.buf[i] = zero
	r.head.Store(head + 1)
	return v, true
}

// PopBatch removes up to len(dst) values in FIFO order, stores them at the
// start of dst and returns how many it stored. A single store hands all
// their slots back to the producer.
//
// PopBatch must only be called by the single consumer. It does not
// allocate.
func (r *SPSC[T]) PopBatch(dst []T) int {
	head := r.head.Load()
	ready := r.tailCache - head
	if ready < uint64(len(dst)) {
		r.tailCache = r.tail.Load()
		ready = r.tailCache - head
	}
	n := min(uint64(len(dst)), ready)
	if n == 0 {
		return 0
	}
	// At most two runs: up to the end of buf, then from its start.
	i := head & r.mask
	first := r.buf[i:min(i+n, r.mask+1)]
	c := copy(dst, first)
	clear(first)
	if rest := n - uint64(c); rest > 0 {
		second := r.buf[:rest]
		copy(dst[c:], second)
		clear(second)
	}
	r.head.Store(head + n)
	return int(n)
}

// Len returns the number of values in the ring. The result is approximate
// when other goroutines are using the ring, and always within [0, Cap()].
//
// Len is safe for concurrent use. It does not allocate.
func (r *SPSC[T]) Len() int {
	head := r.head.Load()
	return length(head, r.tail.Load(), r.mask+1)
}

// Cap returns the number of values the ring can hold.
//
// Cap is safe for concurrent use. It does not allocate.
func (r *SPSC[T]) Cap() int {
	return int(r.mask + 1)
}
