package tcp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/hopwire/hopwire/wire"
)

// Fuzzing limits: the pool takes up to wire.MinFrame, the reader refuses
// lengths over fuzzMaxFrame, so both are easy to reach.
const fuzzMaxFrame = 512

// streamOutcome is what became of a byte stream: the frames it delivered,
// in order, and how it ended.
type streamOutcome struct {
	handshakes int
	frames     [][]byte
	err        error // the error that stopped the stream, or nil
	trunc      error // at the end, a frame left unfinished, or nil
}

// parseStream is the reference reader: the whole stream at once, by the
// book of wire/frame.go, every frame checked with Pool.Decode.
func parseStream(pool *wire.Pool, maxFrame int, s []byte) streamOutcome {
	const minFrame = 4 // the fixed part of the header
	var o streamOutcome
	if len(s) == 0 {
		return o
	}
	if _, err := wire.ParseHello(s[:min(len(s), wire.HelloLen)]); err != nil {
		if !errors.Is(err, wire.ErrTruncated) {
			o.err = err
		}
		return o
	}
	o.handshakes = 1
	s = s[wire.HelloLen:]
	for len(s) > 0 {
		if len(s) < wire.FramePrefixLen {
			o.trunc = &wire.DecodeError{Offset: 0, Field: "frame length", Err: wire.ErrTruncated}
			return o
		}
		n := uint64(binary.BigEndian.Uint32(s))
		s = s[wire.FramePrefixLen:]
		if n < minFrame {
			o.err = &wire.DecodeError{Offset: 0, Field: "frame length", Err: wire.ErrTruncated}
			return o
		}
		if n > uint64(maxFrame) {
			o.err = &wire.DecodeError{Offset: 0, Field: "frame length", Err: wire.ErrFrameTooLarge}
			return o
		}
		if uint64(len(s)) < n {
			o.trunc = &wire.DecodeError{Offset: len(s), Field: "frame", Err: wire.ErrTruncated}
			return o
		}
		m, err := pool.Decode(s[:n])
		if err != nil {
			o.err = err
			return o
		}
		o.frames = append(o.frames, bytes.Clone(m.Bytes()))
		m.Release()
		s = s[n:]
	}
	return o
}

// feedStream runs the reader over s in chunks whose sizes are the bytes of
// cuts (the rest in one last chunk), checking each frame as receive does.
// Each chunk is scribbled over once feed returns, as gnet reuses its read
// buffer: a frame that kept a view of it would show it.
func feedStream(t *testing.T, pool *wire.Pool, maxFrame int, s, cuts []byte) streamOutcome {
	var (
		b       = &budget{max: 1 << 40} // exercised, never reached
		r       = reader{budget: b}
		o       streamOutcome
		stopped bool
	)
	handshake := func(wire.Hello) bool {
		o.handshakes++
		return true
	}
	frame := func(m *wire.Message) bool {
		if stopped {
			t.Fatal("frame delivered after a stop")
		}
		err := m.Parse()
		if err == nil {
			o.frames = append(o.frames, bytes.Clone(m.Bytes()))
		}
		m.Release()
		if err != nil {
			o.err, stopped = err, true
			return false
		}
		return true
	}
	for len(s) > 0 && !stopped {
		n := len(s)
		if len(cuts) > 0 {
			n, cuts = min(n, int(cuts[0])), cuts[1:]
		}
		chunk := bytes.Clone(s[:n])
		s = s[n:]
		err := r.feed(pool, maxFrame, chunk, handshake, frame)
		for i := range chunk {
			chunk[i] = 0xa5
		}
		if err != nil {
			if stopped {
				t.Fatalf("feed returned %v after a stop", err)
			}
			o.err, stopped = err, true
		}
	}
	err := r.close()
	if !stopped {
		o.trunc = err
	} else if err != nil {
		t.Fatalf("close after an error reported %v: the reader kept a partial frame", err)
	}
	if r != (reader{budget: b}) || b.held.Load() != 0 {
		t.Fatalf("close left the reader at %+v, %d bytes held", r, b.held.Load())
	}
	return o
}

// sameError reports whether the reader's error matches the reference's:
// the same sentinel for a bad version, an equal *wire.DecodeError
// otherwise.
func sameError(got, want error) bool {
	if got == nil || want == nil {
		return got == want
	}
	if errors.Is(want, wire.ErrBadVersion) {
		return errors.Is(got, wire.ErrBadVersion)
	}
	var g, w *wire.DecodeError
	return errors.As(got, &g) && errors.As(want, &w) && reflect.DeepEqual(*g, *w)
}

// FuzzReader feeds a byte stream to the reader in chunks (sizes from
// cuts) and compares what it delivers with the reference parser on the
// whole stream: the same frames in the same order, the same error or the
// same unfinished frame at the end, and every message back in the pool.
// Seeds are real encodings.
func FuzzReader(f *testing.F) {
	build := wire.NewPool(wire.MinFrame)
	var frames []byte
	for _, s := range []struct{ on, ret, payload string }{
		{"echoer", "h3=>h2=>h1=>app", "hello"},
		{"h1=>1#127.0.0.1:4000=>echoer", "app", ""},
		{"2#[::1]:9", "0#0123456789abcdef0123456789abcdef", "\x00\x01"},
		{"sink", "", string(make([]byte, 200))},
	} {
		var ret wire.Route
		if s.ret != "" {
			ret = wire.MustParseRoute(s.ret)
		}
		m, err := build.Build(wire.MustParseRoute(s.on), ret, []byte(s.payload))
		if err != nil {
			f.Fatal(err)
		}
		frames = append(frames, m.Frame()...)
		m.Release()
	}
	hello := wire.LocalHello(0).Append(nil)
	good := append(bytes.Clone(hello), frames...)
	ones := bytes.Repeat([]byte{1}, len(good))
	for _, cuts := range [][]byte{nil, ones, {1, 2, 3, 7}, {3, 40, 5, 100, 2}, {0, 255, 0, 1}} {
		f.Add(good, cuts)
	}
	withPrefix := func(n uint32) []byte {
		return binary.BigEndian.AppendUint32(bytes.Clone(good), n)
	}
	f.Add([]byte{}, []byte{})
	f.Add(hello, []byte{})
	f.Add(append([]byte{1}, frames...), []byte{})                // hopwire's first protocol: a lone version byte
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), []byte{})            // not hopwire
	f.Add(withPrefix(fuzzMaxFrame+1), []byte{30, 2})             // over max frame
	f.Add(withPrefix(wire.MinFrame+1), []byte{})                 // over the pool's max
	f.Add(withPrefix(0), ones)                                   // zero length
	f.Add(withPrefix(1), []byte{})                               // under a header
	f.Add(withPrefix(3), []byte{})                               // then a stream end
	f.Add(append(withPrefix(3), 5, 0, 0), []byte{})              // undecodable message
	f.Add(append(withPrefix(6), 0, 9, 0, 0, 'h', 'i'), []byte{}) // empty onward route: the reader's to pass
	f.Add(good[:len(good)-5], []byte{20, 20})                    // truncated body
	f.Add(append(bytes.Clone(good), 0, 0), []byte{})             // truncated prefix
	f.Add(append(bytes.Clone(good), good[wire.HelloLen:wire.HelloLen+2]...), bytes.Repeat([]byte{1}, len(good)+2))

	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		pool := wire.NewPool(wire.MinFrame)
		want := parseStream(pool, fuzzMaxFrame, stream)
		got := feedStream(t, pool, fuzzMaxFrame, stream, cuts)
		if live := pool.Live(); live != 0 {
			t.Fatalf("%d messages not back in the pool", live)
		}
		if got.handshakes != want.handshakes {
			t.Fatalf("%d handshakes, want %d", got.handshakes, want.handshakes)
		}
		if len(got.frames) != len(want.frames) {
			t.Fatalf("%d frames, want %d", len(got.frames), len(want.frames))
		}
		for i := range got.frames {
			if !bytes.Equal(got.frames[i], want.frames[i]) {
				t.Fatalf("frame %d:\n got %x\nwant %x", i, got.frames[i], want.frames[i])
			}
		}
		if !sameError(got.err, want.err) {
			t.Fatalf("error %v, want %v", got.err, want.err)
		}
		if !sameError(got.trunc, want.trunc) {
			t.Fatalf("end %v, want %v", got.trunc, want.trunc)
		}
	})
}

// The reader allocates nothing once the pool is warm, frames split
// anywhere included.
func TestReaderDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	pool := wire.NewPool(0)
	var stream []byte
	for _, size := range []int{0, 64, 1000, 5000} {
		m, err := pool.Build(wire.MustParseRoute("echoer"), wire.MustParseRoute("app"), make([]byte, size))
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, m.Frame()...)
		m.Release()
	}
	var r reader
	r.hs = true
	n := 0
	handshake := func(wire.Hello) bool { return true }
	frame := func(m *wire.Message) bool { n++; m.Release(); return true }
	run := func() {
		for b := stream; len(b) > 0; {
			k := min(len(b), 3+n%700) // cuts everywhere over the runs
			if err := r.feed(pool, pool.MaxFrame(), b[:k], handshake, frame); err != nil {
				t.Fatal(err)
			}
			b = b[k:]
		}
	}
	run()
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Fatalf("%v allocations per stream of 4 frames", a)
	}
	if err := r.close(); err != nil || pool.Live() != 0 {
		t.Fatalf("close: %v, %d live", err, pool.Live())
	}
}

// Frames larger than a read, cut anywhere: the reader grows each message
// as its bytes arrive, delivers the same frames as the reference, and
// holds in the budget no more than a frame's length plus what is not yet
// delivered; nothing once a frame is complete.
func TestReaderGrowsSplitFrames(t *testing.T) {
	pool := wire.NewPool(4 << 20)
	var stream []byte
	for _, size := range []int{100 << 10, 10, 3<<20 + 17, minFill, minFill + 1, 1 << 20} {
		m, err := pool.Build(wire.MustParseRoute("echoer"), wire.MustParseRoute("app"), bytes.Repeat([]byte{byte(size)}, size))
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, m.Frame()...)
		m.Release()
	}
	stream = append(bytes.Clone(goodHello), stream...)
	want := parseStream(pool, pool.MaxFrame(), stream)
	if want.err != nil || len(want.frames) != 6 {
		t.Fatalf("reference: %d frames, %v", len(want.frames), want.err)
	}
	for _, chunk := range []int{1 << 10, 7 << 10, 64 << 10, 100_003} {
		b := &budget{max: 1 << 40}
		r := reader{budget: b}
		var got [][]byte
		frame := func(m *wire.Message) bool {
			got = append(got, bytes.Clone(m.Raw()))
			m.Release()
			return true
		}
		for s := stream; len(s) > 0; {
			k := min(len(s), chunk)
			if err := r.feed(pool, pool.MaxFrame(), s[:k], func(wire.Hello) bool { return true }, frame); err != nil {
				t.Fatal(err)
			}
			s = s[k:]
			if held := b.held.Load(); held != int64(r.held) || r.held > 0 && (r.held > r.n || r.held > 2*r.filled+minFill) {
				t.Fatalf("chunk %d: budget %d, reader holds %d of a %d-byte frame with %d filled", chunk, held, r.held, r.n, r.filled)
			}
		}
		if len(got) != len(want.frames) {
			t.Fatalf("chunk %d: %d frames, want %d", chunk, len(got), len(want.frames))
		}
		for i := range got {
			if !bytes.Equal(got[i], want.frames[i]) {
				t.Fatalf("chunk %d: frame %d differs", chunk, i)
			}
		}
		if err := r.close(); err != nil || b.held.Load() != 0 || pool.Live() != 0 {
			t.Fatalf("chunk %d: close %v, %d bytes held, %d live", chunk, err, b.held.Load(), pool.Live())
		}
	}
}

// A length prefix alone reserves what came with it (at least minFill),
// not the length it declares; past the budget the reader refuses, and
// gives back what it held.
func TestReaderBudget(t *testing.T) {
	pool := wire.NewPool(0)
	b := &budget{max: 3 * minFill}
	var rs [4]reader
	start := append(bytes.Clone(goodHello), binary.BigEndian.AppendUint32(nil, 16<<20)...)
	start = append(start, make([]byte, 100)...)
	nop := func(*wire.Message) bool { t.Fatal("a frame was delivered"); return false }
	for i := range rs {
		rs[i].budget = b
		err := rs[i].feed(pool, pool.MaxFrame(), start, func(wire.Hello) bool { return true }, nop)
		switch {
		case i < 3 && err != nil:
			t.Fatalf("reader %d: %v", i, err)
		case i == 3 && !errors.Is(err, ErrPendingBudget):
			t.Fatalf("reader %d over the budget: %v", i, err)
		}
	}
	if held := b.held.Load(); held != 3*minFill || pool.Live() != 3 {
		t.Fatalf("%d bytes held, %d live; want %d, 3", held, pool.Live(), 3*minFill)
	}
	// A frame that grows past the budget is dropped and its bytes given back.
	err := rs[0].feed(pool, pool.MaxFrame(), make([]byte, 2*minFill), func(wire.Hello) bool { return true }, nop)
	if !errors.Is(err, ErrPendingBudget) || rs[0].cur != nil || b.held.Load() != 2*minFill || pool.Live() != 2 {
		t.Fatalf("growth past the budget: %v, %d bytes held, %d live", err, b.held.Load(), pool.Live())
	}
	for i := range rs {
		rs[i].close()
	}
	if b.held.Load() != 0 || pool.Live() != 0 {
		t.Fatalf("after close: %d bytes held, %d live", b.held.Load(), pool.Live())
	}
}
