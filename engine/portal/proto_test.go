package portal

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/hopwire/hopwire/wire"
)

// seeds are real encodings of every kind.
func seeds() [][]byte {
	return [][]byte{
		appendOpen(nil, DefaultWindow, DefaultChunk, wire.Plain),
		appendOK(nil, DefaultWindow, DefaultChunk, wire.Plain),
		appendOpen(nil, DefaultWindow, DefaultChunk, wire.S2),
		appendOK(nil, DefaultWindow, DefaultChunk, wire.Zstd),
		append([]byte{kindDataZ, 0, 0, 0, 7}, 3, 8, 'a', 'b', 'c'),
		appendText(nil, kindErr, "dial tcp 127.0.0.1:1: connect: connection refused"),
		append([]byte{kindData, 0, 0, 0, 7}, "GET / HTTP/1.1\r\n\r\n"...),
		appendCredit(nil, 64<<10),
		appendEOF(nil, 8),
		{kindProbe},
		{kindClose},
		appendText(nil, kindReset, "write: broken pipe"),
		appendText(nil, kindReset, ""),
	}
}

// encode is parse's inverse, for the round trip.
func encode(f frame) []byte {
	switch f.kind {
	case kindOpen:
		return appendOpen(nil, int(f.window), int(f.chunk), f.codec)
	case kindOK:
		return appendOK(nil, int(f.window), int(f.chunk), f.codec)
	case kindCredit:
		return appendCredit(nil, int64(f.total))
	case kindData, kindDataZ:
		return append(binary.BigEndian.AppendUint32([]byte{f.kind}, f.n), f.data...)
	case kindEOF:
		return appendEOF(nil, f.n)
	}
	return append([]byte{f.kind}, f.data...)
}

func TestParseSeeds(t *testing.T) {
	for _, s := range seeds() {
		f, err := parse(s)
		if err != nil {
			t.Fatalf("%x: %v", s, err)
		}
		if got := encode(f); !bytes.Equal(got, s) {
			t.Fatalf("round trip %x -> %x", s, got)
		}
	}
	bad := [][]byte{
		nil,
		{0},
		{99},
		{kindData},
		{kindData, 0, 0, 0, 1}, // a seq and no bytes
		{kindEOF, 0},
		{kindEOF},
		{kindProbe, 0},
		appendCredit(nil, 0),
		append(appendOpen(nil, DefaultWindow, DefaultChunk, wire.Plain), 0), // codec byte 0: absent means plain
		append(appendOpen(nil, DefaultWindow, DefaultChunk, wire.S2), 0),    // a byte too many
		append(appendOK(nil, DefaultWindow, DefaultChunk, wire.Plain), 9),   // no such codec
		{kindDataZ, 0, 0, 0, 1}, // a seq and no bytes
		appendOpen(nil, minWindow-1, DefaultChunk, wire.Plain),
		appendOK(nil, DefaultWindow, maxChunk+1, wire.Plain),
		binary.BigEndian.AppendUint32([]byte{kindOpen, 2}, 1<<20), // version 2, short
		append([]byte{kindErr}, bytes.Repeat([]byte{'x'}, maxText+1)...),
	}
	for _, b := range bad {
		if _, err := parse(b); err == nil {
			t.Errorf("%x: parsed, want an error", b)
		}
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	ss := seeds()
	if n := testing.AllocsPerRun(100, func() {
		for _, s := range ss {
			parse(s)
		}
	}); n != 0 {
		t.Fatalf("%v allocs per run", n)
	}
}

// FuzzParse: parse never panics, and what it accepts encodes back to
// the same bytes.
func FuzzParse(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := parse(b)
		if err != nil {
			return
		}
		if got := encode(fr); !bytes.Equal(got, b) {
			t.Fatalf("round trip %x -> %x", b, got)
		}
	})
}
