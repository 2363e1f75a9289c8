package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// A reader reads straight into the room BuildRoom makes and cuts the
// payload to what it got: the message is then one Build would have made
// of those bytes, and nothing moved.
func TestBuildRoom(t *testing.T) {
	const room = 3000
	p := NewPool(MinFrame * 8)
	c := NewCache(p)
	defer c.Flush()
	on, ret := MustParseRoute("a => b"), MustParseRoute("app")
	src := bytes.Repeat([]byte("0123456789"), 200) // 2000 bytes: less than the room
	for _, build := range []struct {
		name string
		f    func(on, ret Route, n int) (*Message, error)
	}{{"Pool", p.BuildRoom}, {"Cache", c.BuildRoom}} {
		m, err := build.f(on, ret, room)
		if err != nil {
			t.Fatal(err)
		}
		payload := m.Payload()
		if len(payload) != room || m.PayloadCap() < room {
			t.Fatalf("%s: payload %d bytes, cap %d; want %d", build.name, len(payload), m.PayloadCap(), room)
		}
		n, err := io.ReadFull(bytes.NewReader(src), payload)
		if n != len(src) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("%s: read %d, %v", build.name, n, err)
		}
		if err := m.SetPayloadLen(n); err != nil {
			t.Fatal(err)
		}
		checkMsg(t, m, on, ret, string(src))
		if &m.Payload()[0] != &payload[0] {
			t.Fatalf("%s: SetPayloadLen moved the payload", build.name)
		}
		hdr := m.Len() - n
		want, _ := p.Build(on, ret, src)
		if !bytes.Equal(m.Bytes(), want.Bytes()) {
			t.Fatalf("%s: encodes differently from Build of the same bytes", build.name)
		}
		want.Release()
		// It decodes as sent, after a hop.
		if err := m.Hop(); err != nil {
			t.Fatal(err)
		}
		d, err := p.Decode(m.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		checkMsg(t, d, on[1:], append(Route{on[0]}, ret...), string(src))
		d.Release()

		// Past the room nothing changes; up to it nothing moves.
		if err := m.SetPayloadLen(m.PayloadCap() + 1); !errors.Is(err, ErrNoRoom) || len(m.Payload()) != n {
			t.Fatalf("%s: SetPayloadLen past the room: %v, payload %d", build.name, err, len(m.Payload()))
		}
		if err := m.SetPayloadLen(m.PayloadCap()); err != nil || &m.Payload()[0] != &payload[0] {
			t.Fatalf("%s: SetPayloadLen(PayloadCap()): %v", build.name, err)
		}
		if err := m.SetPayloadLen(0); err != nil || len(m.Payload()) != 0 || m.Len() != hdr {
			t.Fatalf("%s: SetPayloadLen(0): %v, Len %d", build.name, err, m.Len())
		}
		m.Release()
	}
	// The room counts against the max frame, as a payload does.
	if _, err := p.BuildRoom(on, ret, p.MaxFrame()); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("room over the max frame: %v", err)
	}
	if _, err := c.BuildRoom(nil, ret, 10); !errors.Is(err, ErrEmptyRoute) {
		t.Fatalf("room with no onward route: %v", err)
	}
	if err := panicsWith(func() { p.BuildRoom(on, ret, -1) }); err == nil {
		t.Fatal("a negative room did not panic")
	}
	// PayloadCap stops at the max frame, whatever the buffer holds.
	m, _ := p.BuildRoom(on, ret, p.MaxFrame()-100)
	if got := m.Len() - len(m.Payload()) + m.PayloadCap(); got != p.MaxFrame() {
		t.Fatalf("header + PayloadCap = %d, want the max frame %d", got, p.MaxFrame())
	}
	m.Release()
	if p.Live() != int64(len(c.free[0])+len(c.free[1])) {
		t.Fatalf("live = %d", p.Live())
	}
}

// Reading into a message's room costs no allocation once the pool (or
// cache) has messages of the size.
func TestBuildRoomZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	p := NewPool(0)
	c := NewCache(p)
	on, ret := MustParseRoute("h1 => sink"), MustParseRoute("0#0123456789abcdef0123456789abcdef")
	src := bytes.Repeat([]byte("x"), 48<<10)
	r := bytes.NewReader(src)
	for _, tc := range []struct {
		name string
		room int
		f    func(on, ret Route, n int) (*Message, error)
		put  func(*Message)
	}{
		{"Cache/512", 512, c.BuildRoom, c.Put},
		{"Pool/48KiB", 48 << 10, p.BuildRoom, (*Message).Release},
	} {
		read := func() {
			m, err := tc.f(on, ret, tc.room)
			if err != nil {
				panic(err)
			}
			r.Reset(src[:tc.room/2])
			n, err := r.Read(m.Payload())
			if err != nil {
				panic(err)
			}
			if err := m.SetPayloadLen(n); err != nil {
				panic(err)
			}
			m.Hop()
			tc.put(m)
		}
		read() // warm
		if a := testing.AllocsPerRun(1000, read); a != 0 {
			t.Errorf("%s: %v allocs per BuildRoom, read and release", tc.name, a)
		}
	}
	c.Flush()
}
