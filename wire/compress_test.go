package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// jsonish is compressible text of n bytes, like an API's responses.
func jsonish(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"name":"user-%d","email":"user%d@example.com","active":%t},`, i, i%97, i, i%3 == 0)
	}
	return b.Bytes()[:n]
}

func random(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func compressible(t testing.TB, p *Pool, payload []byte) *Message {
	t.Helper()
	m, err := p.Build(MustParseRoute("1#10.0.0.1:4000 => echo"), MustParseRoute("app => 0#abcd"), payload)
	if err != nil {
		t.Fatal(err)
	}
	m.SetHops(17)
	m.meta = Meta{Flow: 9}
	return m
}

// Every codec round-trips payloads from empty to the max frame, keeping
// the header, hops, flags and meta; what is short, incompressible or
// does not fit goes plain, untouched.
func TestCompressRoundTrip(t *testing.T) {
	p := NewPool(1 << 20)
	for _, c := range []Codec{S2, Zstd} {
		for _, tc := range []struct {
			name   string
			data   []byte
			shrink bool
		}{
			{"empty", nil, false},
			{"under min", jsonish(DefaultCompressMin - 1), false},
			{"min", jsonish(DefaultCompressMin), true},
			{"64 KiB text", jsonish(64 << 10), true},
			{"random", random(64 << 10), false},
			{"near max text", jsonish(1<<20 - 1<<18), true},
		} {
			t.Run(c.String()+"/"+tc.name, func(t *testing.T) {
				m := compressible(t, p, tc.data)
				z, ok := c.Compress(m, DefaultCompressMin)
				if ok != tc.shrink {
					t.Fatalf("compressed %v, want %v", ok, tc.shrink)
				}
				if !ok {
					if z != m || z.Flags()&FlagCompressed != 0 || !bytes.Equal(z.Payload(), tc.data) {
						t.Fatal("a message left plain was changed")
					}
					z.Release()
					return
				}
				if z.Flags() != FlagCompressed || len(z.Payload()) >= len(tc.data) {
					t.Fatalf("flags %b, %d bytes from %d", z.Flags(), len(z.Payload()), len(tc.data))
				}
				d, err := c.Decompress(z)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(d.Payload(), tc.data) || d.Flags() != 0 || d.Hops() != 17 || d.Meta().Flow != 9 ||
					d.Onward().String() != "1#10.0.0.1:4000 => 0#echo" || d.Return().String() != "0#app => 0#abcd" {
					t.Fatalf("round trip changed the message: %v / %v / hops %d", d.Onward(), d.Return(), d.Hops())
				}
				// What a transport sends is what its peer parses: the
				// compressed message's bytes decode to a valid message.
				e, ok := c.Compress(d, DefaultCompressMin)
				if !ok {
					t.Fatal("second compression refused")
				}
				got, err := p.Decode(e.Bytes())
				e.Release()
				if err != nil {
					t.Fatal(err)
				}
				if got.Flags() != FlagCompressed {
					t.Fatalf("decoded flags %b", got.Flags())
				}
				got.Release()
			})
		}
	}
	if p.Live() != 0 {
		t.Fatalf("%d messages live", p.Live())
	}
}

// A payload that fills the max frame goes plain, whole: no codec's worst
// case fits beside it (Compress never lets an encoder allocate), so it is
// not tried. A rare size; a quarter below it compresses (RoundTrip).
func TestCompressMaxFrame(t *testing.T) {
	p := NewPool(1 << 20)
	for _, c := range []Codec{S2, Zstd} {
		m := compressible(t, p, nil)
		hdr := m.Len()
		m.Release()
		data := jsonish(1<<20 - hdr)
		m = compressible(t, p, data)
		if m.Len() != p.MaxFrame() {
			t.Fatalf("message of %d bytes, want the max frame %d", m.Len(), p.MaxFrame())
		}
		z, ok := c.Compress(m, DefaultCompressMin)
		if ok || z != m || !bytes.Equal(z.Payload(), data) {
			t.Fatalf("%v: compressed %v, or the payload changed", c, ok)
		}
		z.Release()
	}
	if p.Live() != 0 {
		t.Fatalf("%d messages live", p.Live())
	}
}

func TestSettle(t *testing.T) {
	for _, tc := range []struct {
		a, b Codec
		want Codec
	}{
		{Zstd, Zstd, Zstd}, {Zstd, S2, S2}, {S2, Zstd, S2}, {S2, S2, S2},
		{Zstd, Plain, Plain}, {Plain, S2, Plain}, {Plain, Plain, Plain},
	} {
		if got := Settle(tc.a.Offer() & tc.b.Offer()); got != tc.want {
			t.Errorf("%v with %v settled on %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	for _, s := range []string{"s2", "zstd", "off"} {
		c, err := ParseCodec(s)
		if err != nil || c.String() != s {
			t.Errorf("ParseCodec(%q) = %v, %v", s, c, err)
		}
	}
	if _, err := ParseCodec("gzip"); err == nil || !strings.Contains(err.Error(), "s2, zstd or off") {
		t.Errorf("ParseCodec(gzip): %v", err)
	}
}

// A bomb (a declared size past the max frame) is refused before anything
// is allocated for it; a corrupt payload, or one that decodes to another
// size than it declared, is refused; the message is released either way.
func TestDecompressRefuses(t *testing.T) {
	p := NewPool(64 << 10)
	bomb := func(c Codec) []byte {
		if c == S2 {
			return binary.AppendUvarint(nil, 1<<30) // "1 GiB follows"
		}
		e, _ := zstd.NewWriter(nil)
		defer e.Close()
		return e.EncodeAll(make([]byte, 1<<20), nil) // 1 MiB of zeros in a few bytes, over this pool's 64 KiB
	}
	liar := func(c Codec) []byte {
		z, _ := c.Compress(compressible(t, p, jsonish(8<<10)), 0)
		b := append([]byte(nil), z.Payload()...)
		z.Release()
		if c == S2 {
			return append(binary.AppendUvarint(nil, 9<<10), b[2:]...) // declares more than it holds
		}
		return b[:len(b)-3] // cut short
	}
	for _, c := range []Codec{S2, Zstd} {
		for _, tc := range []struct {
			name    string
			payload []byte
			want    error
		}{
			{"bomb", bomb(c), ErrFrameTooLarge},
			{"garbage", random(300), ErrCorrupt},
			{"liar", liar(c), ErrCorrupt},
			{"empty", nil, ErrCorrupt},
		} {
			t.Run(c.String()+"/"+tc.name, func(t *testing.T) {
				m := compressible(t, p, tc.payload)
				m.SetFlags(FlagCompressed)
				before := p.Live()
				d, err := c.Decompress(m)
				if !errors.Is(err, tc.want) || d != nil {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("%T is not a *DecodeError", err)
				}
				if p.Live() != before-1 {
					t.Fatalf("live %d, want %d: the message was not released, or another kept", p.Live(), before-1)
				}
			})
		}
	}
	m := compressible(t, p, jsonish(2<<10))
	if _, err := S2.Decompress(m); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a plain message decompressed: %v", err)
	}
}

// Compressing and decompressing allocate nothing once warm, whether the
// payload shrinks or goes plain.
func TestCompressAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	p := NewPool(0)
	to := MustParseRoute("echo")
	for _, c := range []Codec{S2, Zstd} {
		for _, data := range [][]byte{jsonish(16 << 10), random(16 << 10)} {
			round := func() {
				m, _ := p.Build(to, nil, data)
				z, ok := c.Compress(m, DefaultCompressMin)
				if ok {
					if z, _ = c.Decompress(z); z == nil {
						t.Fatal("round trip failed")
					}
				}
				z.Release()
			}
			for range 10 {
				round() // warm the pool and the codec's state
			}
			if a := testing.AllocsPerRun(100, round); a != 0 {
				t.Errorf("%v: %.1f allocs per round trip", c, a)
			}
		}
	}
}

// BenchmarkCodec is the CPU cost of each codec on a 64 KiB payload,
// compressing (encode) and decompressing (decode) apart: MB/s of the
// plain bytes, s/GB (CPU seconds per GB of them, on one core) and the
// compressed size's ratio to them. Text shrinks; random is tried and
// refused (encode only: there is nothing to decode).
func BenchmarkCodec(b *testing.B) {
	for _, c := range []Codec{S2, Zstd} {
		for _, in := range []struct {
			name string
			data []byte
		}{{"text-64K", jsonish(64 << 10)}, {"random-64K", random(64 << 10)}} {
			dst := make([]byte, c.Bound(len(in.data)))
			z, ok := c.Encode(dst, in.data)
			ratio := 1.0
			if ok {
				ratio = float64(len(z)) / float64(len(in.data))
			}
			b.Run(c.String()+"/"+in.name+"/encode", func(b *testing.B) {
				b.SetBytes(int64(len(in.data)))
				b.ReportAllocs()
				for b.Loop() {
					c.Encode(dst, in.data)
				}
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(len(in.data))*1e9, "s/GB")
				b.ReportMetric(ratio, "ratio")
			})
			if !ok {
				continue
			}
			z = bytes.Clone(z)
			plain := make([]byte, len(in.data))
			b.Run(c.String()+"/"+in.name+"/decode", func(b *testing.B) {
				b.SetBytes(int64(len(in.data)))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.Decode(plain, z); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(len(in.data))*1e9, "s/GB")
			})
		}
	}
}

// A stream that never shrinks is tried 4 times in a row, then once after
// 64, 128 and then every 256 payloads; one that shrinks again is tried
// every time from then on.
func TestSkipper(t *testing.T) {
	var s Skipper
	var tries []int
	for i := range 1200 {
		if s.Try() {
			tries = append(tries, i)
			s.Missed()
		}
	}
	want := []int{0, 1, 2, 3, 68, 197, 454, 711, 968}
	if fmt.Sprint(tries) != fmt.Sprint(want) {
		t.Fatalf("tried at %v, want %v", tries, want)
	}
	for !s.Try() { // to the next try
	}
	s.Shrank()
	for i := range 10 {
		if !s.Try() {
			t.Fatalf("after a payload shrank, payload %d was skipped", i)
		}
	}
}

// A zstd payload whose first frame declares a few bytes and whose next
// frame expands to 8 MiB is refused without allocating the 8 MiB: the
// decoder stops at what the first frame declared.
func TestZstdTrailingFramesRefused(t *testing.T) {
	p := NewPool(16 << 20)
	e := zstdEncoder() // what a hopwire peer sends: the frame declares its size
	z := e.EncodeAll(jsonish(300), nil)
	if n, err := Zstd.DecodedLen(z); n != 300 || err != nil {
		t.Fatalf("the first frame declares %d (%v), want 300", n, err)
	}
	z = e.EncodeAll(make([]byte, 8<<20), z) // appended: a second frame
	m := compressible(t, p, z)
	m.SetFlags(FlagCompressed)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d, err := Zstd.Decompress(m)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrCorrupt) || d != nil {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
		t.Fatalf("refusing it allocated %d bytes", grew)
	}
}

// zstd leaves the size out of the frame of an input under 256 bytes, and
// a receiver reads the size before anything else: so such a payload goes
// plain, whatever the caller's minimum, and one of 256 bytes or more
// declares its size.
func TestZstdShortGoesPlain(t *testing.T) {
	dst := make([]byte, Zstd.Bound(1024))
	if _, ok := Zstd.Encode(dst, jsonish(zstdMinFCS-1)); ok {
		t.Fatalf("a %d-byte payload was compressed", zstdMinFCS-1)
	}
	out, ok := Zstd.Encode(dst, jsonish(zstdMinFCS))
	if !ok {
		t.Fatalf("a %d-byte payload of text did not compress", zstdMinFCS)
	}
	if n, err := Zstd.DecodedLen(out); n != zstdMinFCS || err != nil {
		t.Fatalf("it declares %d (%v)", n, err)
	}
}
