package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder. Whatever it accepts must
// round-trip through Build to the same bytes and survive every in-place
// operation; whatever it refuses must be a *DecodeError. Seeds are real
// encodings.
func FuzzDecode(f *testing.F) {
	p := NewPool(MinFrame * 64)
	for _, s := range []struct{ on, ret, payload string }{
		{"echoer", "h3=>h2=>h1=>app", "hello"},
		{"h1=>1#127.0.0.1:4000=>echoer", "app", ""},
		{"2#[::1]:9", "0#0123456789abcdef0123456789abcdef", "\x00\x01"},
	} {
		var ret Route
		if s.ret != "" {
			ret = MustParseRoute(s.ret)
		}
		m, err := p.Build(MustParseRoute(s.on), ret, []byte(s.payload))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.Clone(m.Bytes()))
		m.Release()
	}
	// A refusal notice: flag FlagError, an onward route, no return route,
	// one line of text.
	n, err := p.Build(MustParseRoute("0#0123456789abcdef0123456789abcdef=>app=>~req-1"), nil, []byte("n1: 0#echo: no such worker reachable from your link"))
	if err != nil {
		f.Fatal(err)
	}
	n.SetFlags(FlagError)
	f.Add(bytes.Clone(n.Bytes()))
	n.Release()
	f.Add([]byte{byte(FlagError), 1, 1, 0, 0, 1, 'a'})
	f.Add([]byte{byte(KnownFlags) + 1, 1, 1, 0, 0, 1, 'a'})
	f.Add([]byte{})
	f.Add([]byte{255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := p.Decode(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			return
		}
		defer m.Release()
		on, ret := m.Onward(), m.Return()
		if len(on) > 0 {
			again, err := p.Build(on, ret, m.Payload())
			if err != nil {
				t.Fatalf("decoded routes do not build: %v", err)
			}
			again.SetFlags(m.Flags())
			again.SetHops(uint8(m.Hops()))
			if !bytes.Equal(again.Bytes(), b[:m.Len()]) {
				t.Fatalf("round trip differs:\n got %x\nwant %x", again.Bytes(), b)
			}
			again.Release()
		}
		// The in-place operations must keep the message well formed.
		_ = m.Hop()
		_ = m.PrependReturn(MustParseAddress("0#0123456789abcdef0123456789abcdef"))
		_ = m.Turn(MustParseAddress("self"))
		_ = m.Step()
		if d, err := p.Decode(m.Bytes()); err != nil {
			t.Fatalf("header no longer decodes after operations: %v", err)
		} else {
			d.Release()
		}
	})
}

// FuzzHandshake feeds arbitrary bytes to the handshake decoder and
// negotiates with whatever it accepts: no panic, and an accepted Hello
// encodes back to the same bytes.
func FuzzHandshake(f *testing.F) {
	f.Add(LocalHello(CapS2).Append(nil))
	f.Add([]byte{Version})
	f.Add([]byte{'H', 'W', 1, 255, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHello(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			return
		}
		if got := h.Append(nil); !bytes.Equal(got, b[:HelloLen]) {
			t.Fatalf("round trip: %x, want %x", got, b[:HelloLen])
		}
		v, caps, err := Negotiate(LocalHello(CapS2), h)
		if err == nil && (v < MinVersion || v > Version || v > h.MaxVersion || v < h.MinVersion || caps&^CapS2 != 0) {
			t.Fatalf("negotiated version %d caps %b with %+v", v, caps, h)
		}
	})
}

// FuzzDatagram: whatever DatagramMessage accepts decodes or fails with a
// *DecodeError, like any message.
func FuzzDatagram(f *testing.F) {
	p := NewPool(MinFrame * 64)
	m, _ := p.Build(MustParseRoute("echoer"), MustParseRoute("2#127.0.0.1:9"), []byte("x"))
	f.Add(bytes.Clone(m.Datagram()))
	m.Release()
	m, _ = p.Build(MustParseRoute("app=>~req-3"), nil, []byte("n2: 0#nosuch: no such worker reachable from your link"))
	m.SetFlags(FlagError)
	f.Add(bytes.Clone(m.Datagram()))
	m.Release()
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := DatagramMessage(b)
		if err != nil {
			return
		}
		if m, err := p.Decode(body); err == nil {
			m.Release()
		} else if de := (*DecodeError)(nil); !errors.As(err, &de) {
			t.Fatalf("error %v is not a *DecodeError", err)
		}
	})
}

// FuzzDecompress: whatever arrives marked compressed either decodes to
// a message within the pool's max frame or is refused with a
// *DecodeError; nothing panics, and no message is left live.
func FuzzDecompress(f *testing.F) {
	p := NewPool(MinFrame * 64)
	for _, c := range []Codec{S2, Zstd} {
		m, _ := p.Build(MustParseRoute("echo"), nil, jsonish(4<<10))
		z, _ := c.Compress(m, 0)
		f.Add(byte(c), bytes.Clone(z.Payload()))
		z.Release()
	}
	f.Add(byte(S2), binary.AppendUvarint(nil, 1<<40))
	f.Add(byte(Zstd), []byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 0xff})
	to := MustParseRoute("echo")
	f.Fuzz(func(t *testing.T, codec byte, payload []byte) {
		c := Codec(codec%2 + 1)
		m, err := p.Build(to, nil, payload)
		if err != nil {
			return
		}
		m.SetFlags(FlagCompressed)
		d, err := c.Decompress(m)
		switch {
		case err == nil:
			if d.Len() > p.MaxFrame() || d.Flags()&FlagCompressed != 0 {
				t.Fatalf("decoded %d bytes, flags %b", d.Len(), d.Flags())
			}
			d.Release()
		case !errors.As(err, new(*DecodeError)):
			t.Fatalf("error %v is not a *DecodeError", err)
		}
		if p.Live() != 0 {
			t.Fatalf("%d messages live", p.Live())
		}
	})
}
