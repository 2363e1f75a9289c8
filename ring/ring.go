// Package ring provides bounded, lock-free FIFO rings for passing values
// between goroutines without locks, channels or allocation: MPSC for many
// producers feeding one consumer (an event loop's mailbox) and SPSC for one
// producer paired with one consumer.
//
// A ring never grows and never blocks. Push reports false when the ring is
// full and Pop reports false when it is empty; whether to drop, retry or
// park is the caller's policy, not the ring's.
//
// The ownership rules are part of the contract and are not checked:
//
//   - MPSC.Push may be called by any number of goroutines at once.
//   - SPSC.Push and SPSC.PushBatch may only be called by a single producer
//     goroutine at a time.
//   - Pop and PopBatch, on either ring, may only be called by a single
//     consumer goroutine at a time.
//   - Len and Cap may be called from anywhere.
//
// "At a time" means a role may move to another goroutine if the hand-over
// is ordered by other synchronization, but two calls in the same role must
// never overlap.
//
// Each slot is owned by one side at a time. A producer owns a slot from
// the moment it claims it until it publishes the value with an atomic
// store; the consumer owns it from then until it has read the value and
// set the slot back to the zero value of T, and only then hands it back.
// Clearing matters because the ring is long-lived: a popped message must
// not stay reachable from it.
//
// Positions are 64-bit counters that only grow and are reduced to a slot
// index with a power-of-two mask. At one push per nanosecond they would
// take five centuries to wrap, so the code does not handle wrapping.
package ring

import (
	"math/bits"
	"strconv"
)

// cacheLine is the padding unit between fields written by different
// goroutines. It is 128 rather than 64 because Intel's spatial prefetcher
// pulls 64-byte lines in pairs, and Apple's cores use 128-byte lines.
const cacheLine = 128

// pad separates hot fields. A whole line between two fields keeps them on
// different lines however the struct happens to be aligned.
type pad [cacheLine]byte

// maxCapacity bounds a ring so its capacity always fits in an int, even on
// 32-bit platforms.
const maxCapacity = 1 << 30

// roundCapacity returns capacity rounded up to a power of two, so that a
// position becomes a slot index with a mask instead of a division.
//
// It panics if capacity is outside [2, maxCapacity]. One slot is not
// enough for MPSC: its sequence numbers for "full at pos" and "released
// at pos" would both be pos+1.
func roundCapacity(capacity int) uint64 {
	if capacity < 2 || capacity > maxCapacity {
		panic("ring: capacity " + strconv.Itoa(capacity) + " out of range [2, 1<<30]")
	}
	return 1 << bits.Len64(uint64(capacity-1))
}

// length returns tail-head clamped to [0, size]. head and tail are loaded
// at different moments by the caller, so the raw difference can exceed
// the size when the consumer moves on between the two loads.
func length(head, tail, size uint64) int {
	if tail <= head {
		return 0
	}
	return int(min(tail-head, size))
}
