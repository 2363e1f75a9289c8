package wire

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// Buffer size classes are powers of two from 1<<minClassBits up to
// 1<<maxClassBits, so a frame at MaxFrameLimit plus headroom fits.
const (
	minClassBits = 9
	maxClassBits = 31
	numClasses   = maxClassBits - minClassBits + 1
)

// maxPooledClass is the largest size class whose buffers are pooled:
// all of them, by measurement. A pooled buffer is not kept for ever:
// sync.Pool drops what was not taken again within two garbage
// collections (an idle process still collects every two minutes), so a
// rare huge buffer outlives its message by one collection more than a
// plain allocation would. Pooling the large classes is what makes large
// messages cheap, and a frame read in pieces grows through them
// (Message.Resize).
//
// BenchmarkPoolLarge (2 vCPUs, two goroutines filling and releasing
// messages), pooled vs left to the collector (which then allocates and
// clears each buffer and runs a collection every third message):
//
//	         time per message          heap held after 1 GC, after 2 GCs
//	size     pooled       unpooled     pooled       unpooled
//	1 MiB    41-47 µs     387-491 µs    4, 0 MiB    0, 0 MiB
//	4 MiB    141-153 µs   1.4-1.7 ms   16, 0 MiB    0, 0 MiB
//	16 MiB   0.78-0.86 ms 5.1 ms       64, 0 MiB    0, 0 MiB
//
// and over TCP (tcp's BenchmarkTCPPipelined 16 KiB, TCPLargeFrames 1 and
// 4 MiB, 3 runs, classes over 1 MiB pooled vs not): 16 KiB frames alike
// (50-73k msgs/s either way: their 32 KiB class is under the line);
// 1 MiB frames 981-1121 vs 403-424 msgs/s, 4 MiB 188-214 vs 87-123; the
// two nodes' heap after the stream and one collection 46 vs 34 MiB
// (1 MiB) and 79 vs 31-33 MiB (4 MiB).
const maxPooledClass = numClasses - 1

// Pool hands out Messages backed by pooled buffers in power-of-two size
// classes. It is safe for concurrent use. A node owns one Pool; every
// Message it hands out goes back to it through Message.Release.
//
// Each class pools Messages with their buffer attached, so Get and Release
// move one pointer and allocate nothing once the pool is warm.
type Pool struct {
	maxFrame int
	topClass int // the largest class whose buffers are pooled: maxPooledClass, but in BenchmarkPoolLarge
	classes  [numClasses]sync.Pool
	_        [64]byte // keep live off the cache line of the fields read on every Get
	live     atomic.Int64
	_        [56]byte
}

// NewPool returns a Pool for messages of at most maxFrame encoded bytes;
// 0 means DefaultMaxFrame. It panics if maxFrame is over MaxFrameLimit or
// below MinFrame: a configuration error, caught at start.
func NewPool(maxFrame int) *Pool {
	if maxFrame == 0 {
		maxFrame = DefaultMaxFrame
	}
	if maxFrame < MinFrame || maxFrame > MaxFrameLimit {
		panic("wire: max frame size out of range")
	}
	return &Pool{maxFrame: maxFrame, topClass: maxPooledClass}
}

// MaxFrame returns the largest encoded message the pool accepts.
func (p *Pool) MaxFrame() int { return p.maxFrame }

// Live returns the number of Messages handed out and not yet released.
// A node that has stopped cleanly has none.
func (p *Pool) Live() int64 { return p.live.Load() }

// classFor returns the size class whose buffers hold n bytes, or -1.
func classFor(n int) int {
	c := bits.Len(uint(n-1)) - minClassBits
	if c < 0 {
		return 0
	}
	if c >= numClasses {
		return -1
	}
	return c
}

// get returns a Message of the class with its buffer, not yet counted live.
func (p *Pool) get(class int) *Message {
	if class <= p.topClass {
		if m, ok := p.classes[class].Get().(*Message); ok {
			return m
		}
	}
	return &Message{buf: make([]byte, 1<<(class+minClassBits)), class: int8(class), pool: p}
}

// put keeps a Message and its buffer for the next get of its class, or
// leaves both to the garbage collector if the class is not pooled.
func (p *Pool) put(m *Message) {
	if int(m.class) <= p.topClass {
		p.classes[m.class].Put(m)
	}
}

// alloc returns a live Message whose buffer has room for n encoded bytes
// after Headroom, with start and end set around them.
func (p *Pool) alloc(n int) (*Message, error) {
	if n > p.maxFrame {
		return nil, ErrFrameTooLarge
	}
	m := p.get(classFor(Headroom + n))
	m.released, m.lent, m.home = false, false, nil
	m.start, m.cur, m.body, m.end = Headroom, Headroom, Headroom, Headroom+n
	p.live.Add(1)
	return m, nil
}
