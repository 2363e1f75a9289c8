package wire

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Compression
//
// A connection may carry payloads compressed with one codec, settled in
// its handshake: each side offers the codecs it takes (Hello.Caps, CapS2
// and CapZstd) and both send with the densest they share (Settle). A
// compressed message has FlagCompressed set and its payload is one codec
// frame of the original payload; its header is as it was:
//
//	S2    an S2 block (github.com/klauspost/compress/s2): a uvarint of
//	      the decoded length, then the block
//	zstd  one zstd frame with its content size in the frame header
//
// Only the payload is compressed: a node forwarding the message reads
// and rewrites its header without decoding anything, and a transport
// decodes the payload only where the message leaves a connection that
// settled on compression (it is delivered, or sent on, plain). A decoder
// reads the decoded size first and refuses one that would take the
// message past its pool's max frame before it allocates anything.

// Codec is a payload compression a connection settled on, or Plain.
type Codec uint8

// Codecs.
const (
	Plain Codec = iota // no compression
	S2                 // S2: fast; the default where compression is on
	Zstd               // zstd: denser, slower
)

// ErrCorrupt says a compressed payload does not decode.
var ErrCorrupt = errors.New("wire: corrupt compressed payload")

// ParseCodec reads a codec's name: "s2", "zstd", or "off" (also "none",
// "plain" and "") for Plain.
func ParseCodec(s string) (Codec, error) {
	switch s {
	case "s2":
		return S2, nil
	case "zstd":
		return Zstd, nil
	case "off", "none", "plain", "":
		return Plain, nil
	}
	return Plain, fmt.Errorf("unknown compression %q (want s2, zstd or off)", s)
}

func (c Codec) String() string {
	switch c {
	case S2:
		return "s2"
	case Zstd:
		return "zstd"
	}
	return "off"
}

// Offer is what a side that wants to send with c offers in its Hello:
// zstd offers S2 too, so that a peer that has only S2 is still served
// compressed; Plain offers nothing, and nothing is compressed either way.
func (c Codec) Offer() Caps {
	switch c {
	case S2:
		return CapS2
	case Zstd:
		return CapZstd | CapS2
	}
	return 0
}

// Settle picks a connection's codec from the capabilities both sides
// offer (Negotiate's caps): zstd if both offer it, else S2, else Plain.
func Settle(common Caps) Codec {
	switch {
	case common&CapZstd != 0:
		return Zstd
	case common&CapS2 != 0:
		return S2
	}
	return Plain
}

// DefaultCompressMin is the shortest payload worth trying to compress:
// below it a codec saves a few bytes at best, and a request/response of
// small messages pays nothing for compression being on.
const DefaultCompressMin = 1 << 10

// Bound is the room Encode needs for n bytes: the codec's worst case,
// so that it never allocates.
func (c Codec) Bound(n int) int {
	if c == S2 {
		return s2.MaxEncodedLen(n)
	}
	return n + n>>8 + 128 // zstd's ZSTD_COMPRESSBOUND, with room for the frame header
}

// Encode compresses src into dst, which has room for c.Bound(len(src))
// bytes, and returns the compressed bytes (a prefix of dst) and true; or
// false when c is Plain, or src does not shrink by at least an eighth
// (an incompressible payload goes plain: the attempt is all it costs),
// or c is zstd and src is under 256 bytes (zstdMinFCS).
// It allocates nothing once the codec's state is warm. Safe for
// concurrent use.
func (c Codec) Encode(dst, src []byte) ([]byte, bool) {
	if c == Plain || len(src) == 0 || len(dst) < c.Bound(len(src)) || c == Zstd && len(src) < zstdMinFCS {
		return nil, false
	}
	var out []byte
	switch c {
	case S2:
		out = s2.Encode(dst, src)
	case Zstd:
		out = zstdEncoder().EncodeAll(src, dst[:0])
	}
	if len(out) == 0 || len(out) > len(src)-len(src)/8 || &out[0] != &dst[0] {
		return nil, false
	}
	if c == Zstd {
		if n, err := c.DecodedLen(out); err != nil || n != len(src) {
			return nil, false // a frame a receiver could not size: send it plain
		}
	}
	return out, true
}

// zstdMinFCS is the shortest input whose zstd frame declares its size
// (the frame content size): below it the encoder leaves the size out,
// and a receiver, which reads the size before it allocates, could not
// take the frame. Shorter payloads go plain.
const zstdMinFCS = 256

// DecodedLen reads the size src declares it decodes to, without decoding
// it: what a receiver checks against its limits before it allocates.
// It returns an error wrapping ErrCorrupt when src has no such header.
func (c Codec) DecodedLen(src []byte) (int, error) {
	switch c {
	case S2:
		n, err := s2.DecodedLen(src)
		if err != nil {
			return 0, ErrCorrupt
		}
		return n, nil
	case Zstd:
		var h zstd.Header
		if err := h.Decode(src); err != nil || !h.HasFCS || h.Skippable || h.FrameContentSize > MaxFrameLimit {
			return 0, ErrCorrupt
		}
		return int(h.FrameContentSize), nil
	}
	return 0, ErrCorrupt
}

// Decode decodes src into dst, which is exactly c.DecodedLen(src) bytes
// long. It returns ErrCorrupt when src does not decode to exactly that.
// It allocates nothing once the codec's state is warm. Safe for
// concurrent use.
func (c Codec) Decode(dst, src []byte) error {
	var out []byte
	var err error
	switch c {
	case S2:
		out, err = s2.Decode(dst, src)
	case Zstd:
		out, err = zstdDecoder().DecodeAll(src, dst[:0])
	default:
		return ErrCorrupt
	}
	if err != nil || len(out) != len(dst) || len(dst) > 0 && &out[0] != &dst[0] {
		return ErrCorrupt
	}
	return nil
}

// Compress returns m with its payload compressed with c: a new message
// from m's pool with m's header, meta and flags and FlagCompressed set,
// m released; or m itself, untouched, and false, when c is Plain, the
// payload is shorter than min or already compressed, or does not shrink
// by an eighth (Encode), or the compressed message would not fit the
// pool. It owns m either way, and allocates nothing once the pool and
// the codec's state are warm.
func (c Codec) Compress(m *Message, min int) (*Message, bool) {
	p := m.Payload()
	if c == Plain || len(p) < min || len(p) == 0 || m.Flags()&FlagCompressed != 0 {
		return m, false
	}
	hdr := m.body - m.start
	room := c.Bound(len(p))
	z, err := m.pool.alloc(hdr + room)
	if err != nil {
		return m, false
	}
	out, ok := c.Encode(z.buf[z.start+hdr:z.start+hdr+room], p)
	if !ok {
		z.Release()
		return m, false
	}
	copy(z.buf[z.start:], m.buf[m.start:m.body])
	z.cur, z.body, z.end = z.start+(m.cur-m.start), z.start+hdr, z.start+hdr+len(out)
	z.meta = m.meta
	z.SetFlags(m.Flags() | FlagCompressed)
	m.Release()
	return z, true
}

// Decompress returns m, whose payload is compressed with c
// (FlagCompressed), with its payload decoded: a new message from m's
// pool with m's header, meta and flags but FlagCompressed, m released.
// It owns m either way; on error m is released. It refuses, with a
// *DecodeError wrapping ErrFrameTooLarge, a payload whose declared
// decoded size would take the message past the pool's max frame, before
// it allocates anything for it; and with one wrapping ErrCorrupt a
// payload that does not decode to exactly that size, or m not marked
// compressed, or c Plain. It allocates nothing once the pool and the
// codec's state are warm.
func (c Codec) Decompress(m *Message) (*Message, error) {
	p := m.Payload()
	hdr := m.body - m.start
	fail := func(field string, err error) (*Message, error) {
		m.Release()
		return nil, &DecodeError{Offset: hdr, Field: field, Err: err}
	}
	if m.Flags()&FlagCompressed == 0 || c == Plain {
		return fail("payload", ErrCorrupt)
	}
	n, err := c.DecodedLen(p)
	if err != nil {
		return fail("decoded length", err)
	}
	if n > m.pool.maxFrame-hdr {
		return fail("decoded length", ErrFrameTooLarge)
	}
	d, err := m.pool.alloc(hdr + n)
	if err != nil {
		return fail("decoded length", ErrFrameTooLarge)
	}
	if err := c.Decode(d.buf[d.start+hdr:d.start+hdr+n], p); err != nil {
		d.Release()
		return fail("payload", err)
	}
	copy(d.buf[d.start:], m.buf[m.start:m.body])
	d.cur, d.body = d.start+(m.cur-m.start), d.start+hdr
	d.meta = m.meta
	d.SetFlags(m.Flags() &^ FlagCompressed)
	m.Release()
	return d, nil
}

// The zstd encoder and decoder are made once and shared: EncodeAll and
// DecodeAll are safe for concurrent use and keep a state per concurrent
// caller (up to GOMAXPROCS), reused from call to call.
var (
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil,
			zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithEncoderCRC(false), // the transport's stream is checked already (TCP)
			zstd.WithZeroFrames(true),
			zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic(err) // options are constant
		}
		return e
	})
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithDecoderMaxMemory(MaxFrameLimit),
			// DecodeAll decodes every frame of its input one after
			// another: a payload whose first frame declares a few bytes
			// and whose next frames expand to a gigabyte would grow dst
			// to that before Decode could see the size is wrong. With
			// the limit, DecodeAll stops at dst's capacity, the size the
			// first frame declared.
			zstd.WithDecodeAllCapLimit(true),
			zstd.WithDecoderLowmem(true))
		if err != nil {
			panic(err)
		}
		return d
	})
)

// Skipper spares a stream of incompressible payloads (TLS, media,
// compressed files) the cost of trying each: after skipAfter payloads in
// a row that did not shrink it skips the next 64, then 128, up to 256
// between tries, and tries every payload again once one shrinks. A try
// on 64 KiB of random bytes costs about what sending it does (S2 10 µs,
// zstd 20 µs: BenchmarkCodec), so trying each would cost such a stream
// a good part of its throughput; one in 256 costs it nothing measurable.
// Its zero value is ready; it is safe for concurrent use (approximate
// under concurrent callers, which is all a heuristic needs).
type Skipper struct{ miss, skip atomic.Int32 }

const (
	skipAfter = 4
	skipMin   = 64
	skipMax   = 256
)

// Try reports whether to try compressing the next payload.
func (s *Skipper) Try() bool {
	if s.skip.Load() > 0 {
		s.skip.Add(-1)
		return false
	}
	return true
}

// Missed records a try that did not shrink its payload.
func (s *Skipper) Missed() {
	if n := s.miss.Add(1); n >= skipAfter {
		s.skip.Store(int32(min(skipMin<<min(n-skipAfter, 8), skipMax)))
	}
}

// Shrank records a try that did.
func (s *Skipper) Shrank() {
	if s.miss.Load() != 0 {
		s.miss.Store(0)
	}
}
