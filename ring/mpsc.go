package ring

import "sync/atomic"

// MPSC is a bounded, lock-free FIFO ring for many producers and a single
// consumer. It is Dmitry Vyukov's bounded queue with the consumer side
// reduced to one goroutine, which needs no CAS.
//
// Every slot carries a sequence number saying whose turn it is. For the
// slot that position pos (the count of pushes before it) maps to:
//
//	seq == pos         free: the producer that claims pos may write it
//	seq == pos+1       published: the consumer may read it
//	seq == pos+cap     released: free for the producer of pos+cap
//
// A producer claims pos with a CAS on tail, writes the value, then stores
// seq = pos+1. The consumer loads seq before it reads the value, so it
// never sees a half-written one; because the hand-over is made of atomic
// operations, the race detector sees the ordering too.
//
// Claiming and publishing are two steps, so a producer stopped between
// them leaves a hole: Pop reports the ring empty at that slot, even when
// later slots are already published, until that producer completes. A
// loop that sleeps when Pop reports false must therefore be woken by each
// producer after its Push returns, not by having seen items earlier.
//
// The zero value is not usable; create rings with NewMPSC.
type MPSC[T any] struct {
	// slots and mask are read-only after NewMPSC. They sit away from
	// the counters so that writes to tail and head do not evict them.
	slots []mpscSlot[T]
	mask  uint64

	_ pad
	// tail is the next position to claim. Producers advance it by CAS.
	tail atomic.Uint64
	_    pad
	// head is the next position to pop. Only the consumer writes it;
	// it is atomic so that Len may read it from anywhere.
	head atomic.Uint64
	_    pad
}

type mpscSlot[T any] struct {
	seq atomic.Uint64
	val T
}

// NewMPSC returns an empty ring holding up to capacity values, rounded up
// to a power of two. It panics if capacity is less than 2 or greater than
// 1<<30.
func NewMPSC[T any](capacity int) *MPSC[T] {
	size := roundCapacity(capacity)
	r := &MPSC[T]{
		slots: make([]mpscSlot[T], size),
		mask:  size - 1,
	}
	for i := range r.slots {
		r.slots[i].seq.Store(uint64(i))
	}
	return r
}

// Push appends v to the ring. It returns false, and does not store v, if
// the ring is full.
//
// Push is safe for concurrent use by any number of producers. It never
// blocks: it retries only when another producer has just claimed a slot.
// It does not allocate.
func (r *MPSC[T]) Push(v T) bool {
	pos := r.tail.Load()
	for {
		s := &r.slots[pos&r.mask]
		seq := s.seq.Load()
		switch dif := int64(seq - pos); {
		case dif == 0:
			if r.tail.CompareAndSwap(pos, pos+1) {
				s.val = v
				// Publish: the consumer may read val from now on.
				s.seq.Store(pos + 1)
				return true
			}
			pos = r.tail.Load()
		case dif < 0:
			// The slot still holds the value pushed a lap ago.
			return false
		default:
			// Another producer claimed pos after we loaded tail.
			pos = r.tail.Load()
		}
	}
}

// PushBatch appends the values of vs in order, as many as there is room
// for, claiming their slots with one CAS, and returns how many it
// appended. A producer handing on many values at once pays for the
// claim, and the cache lines of the slots it fills, once per batch.
//
// PushBatch is safe for concurrent use with Push, PushBatch and the
// consumer. It does not allocate.
func (r *MPSC[T]) PushBatch(vs []T) int {
	size := r.mask + 1
	for {
		pos := r.tail.Load()
		k := min(uint64(len(vs)), size)
		// The consumer frees slots in order, so the last of the k being
		// free means all are. Usually it is; else head says how many
		// are free (it can be a slot ahead of that: Pop stores it
		// first), and the loop finds the last free one.
		if k > 0 && r.slots[(pos+k-1)&r.mask].seq.Load() != pos+k-1 {
			k = min(k, size-min(size, pos-r.head.Load()))
			for k > 0 && r.slots[(pos+k-1)&r.mask].seq.Load() != pos+k-1 {
				k--
			}
		}
		if k == 0 {
			return 0
		}
		if !r.tail.CompareAndSwap(pos, pos+k) {
			continue
		}
		for i := range k {
			s := &r.slots[(pos+i)&r.mask]
			s.val = vs[i]
			s.seq.Store(pos + i + 1)
		}
		return int(k)
	}
}

// Pop removes and returns the oldest value. It returns ok == false if the
// ring is empty, or if the oldest slot has been claimed by a producer
// whose Push has not yet returned.
//
// Pop must only be called by the single consumer. It does not allocate.
func (r *MPSC[T]) Pop() (v T, ok bool) {
	pos := r.head.Load()
	s := &r.slots[pos&r.mask]
	if s.seq.Load() != pos+1 {
		return v, false
	}
	v = s.val
	var zero T
	s.val = zero
	r.head.Store(pos + 1)
	// Hand the slot back to the producer of the next lap.
	s.seq.Store(pos + r.mask + 1)
	return v, true
}

// PopBatch removes up to len(dst) values in FIFO order, stores them at the
// start of dst and returns how many it stored. It stops early at an empty
// or not yet published slot, as Pop does.
//
// PopBatch must only be called by the single consumer. It does not
// allocate.
func (r *MPSC[T]) PopBatch(dst []T) int {
	head := r.head.Load()
	pos := head
	var zero T
	for i := range dst {
		s := &r.slots[pos&r.mask]
		if s.seq.Load() != pos+1 {
			break
		}
		dst[i] = s.val
		s.val = zero
		// Release each slot at once so producers blocked on a full
		// ring can go on while the batch is being drained.
		s.seq.Store(pos + r.mask + 1)
		pos++
	}
	if pos != head {
		r.head.Store(pos)
	}
	return int(pos - head)
}

// Ready reports whether Pop would return a value now: the oldest slot is
// published. It reads the one slot the next Pop reads, not the producers'
// counter, so a consumer waiting for work can look often without taking
// that cache line from the producers.
//
// Ready must only be called by the single consumer. It does not allocate.
func (r *MPSC[T]) Ready() bool {
	pos := r.head.Load()
	return r.slots[pos&r.mask].seq.Load() == pos+1
}

// Len returns the number of values in the ring, counting those whose Push
// is still in progress. The result is approximate when other goroutines
// are using the ring, and always within [0, Cap()].
//
// Len is safe for concurrent use. It does not allocate.
func (r *MPSC[T]) Len() int {
	// head first: tail never falls behind head, so loading it later
	// can only err towards a larger count, which length clamps.
	head := r.head.Load()
	return length(head, r.tail.Load(), r.mask+1)
}

// Cap returns the number of values the ring can hold.
//
// Cap is safe for concurrent use. It does not allocate.
func (r *MPSC[T]) Cap() int {
	return int(r.mask + 1)
}
