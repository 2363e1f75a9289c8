package wire

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Address
		text string
	}{
		{"echoer", Address{Local, "echoer"}, "0#echoer"},
		{"0#echoer", Address{Local, "echoer"}, "0#echoer"},
		{"1#127.0.0.1:4000", Address{TCP, "127.0.0.1:4000"}, "1#127.0.0.1:4000"},
		{"2#[::1]:9", Address{UDP, "[::1]:9"}, "2#[::1]:9"},
		{"x#y", Address{Local, "x#y"}, "0#x#y"},
		{"0#a#b", Address{Local, "a#b"}, "0#a#b"},
	} {
		got, err := ParseAddress(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseAddress(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			continue
		}
		if got.String() != tc.text {
			t.Errorf("%q.String() = %q, want %q", tc.in, got.String(), tc.text)
		}
		if again := MustParseAddress(got.String()); again != got {
			t.Errorf("round trip of %q gave %v", tc.in, again)
		}
	}
	for _, tc := range []struct {
		in  string
		err error
	}{
		{"", ErrEmptyAddress},
		{"1#", ErrEmptyAddress},
		{"256#x", ErrBadAddressType},
		{strings.Repeat("a", 256), ErrAddressTooLong},
	} {
		_, err := ParseAddress(tc.in)
		var ae *AddressError
		if !errors.Is(err, tc.err) || !errors.As(err, &ae) {
			t.Errorf("ParseAddress(%q) error = %v, want %v as *AddressError", tc.in, err, tc.err)
		}
	}
	if (Address{}).IsValid() {
		t.Error("zero Address is valid")
	}
}

func TestParseRoute(t *testing.T) {
	r, err := ParseRoute("hop1=>1#127.0.0.1:4000 =>  echoer")
	if err != nil {
		t.Fatal(err)
	}
	want := Route{{Local, "hop1"}, {TCP, "127.0.0.1:4000"}, {Local, "echoer"}}
	if !r.Equal(want) {
		t.Fatalf("got %v want %v", r, want)
	}
	if s := r.String(); s != "0#hop1 => 1#127.0.0.1:4000 => 0#echoer" {
		t.Fatalf("String = %q", s)
	}
	if _, err := ParseRoute(" "); !errors.Is(err, ErrEmptyRoute) {
		t.Fatalf("empty route: %v", err)
	}
	if _, err := ParseRoute("a=>=>b"); !errors.Is(err, ErrEmptyAddress) {
		t.Fatalf("empty address in route: %v", err)
	}
	long := strings.Repeat("a=>", MaxRouteLen) + "a"
	if _, err := ParseRoute(long); !errors.Is(err, ErrRouteTooLong) {
		t.Fatalf("long route: %v", err)
	}
}

func TestBuildRefusesOverLimits(t *testing.T) {
	p := NewPool(MinFrame)
	long := make(Route, MaxRouteLen+1)
	for i := range long {
		long[i] = Address{Local, "a"}
	}
	for name, tc := range map[string]struct {
		on, ret Route
		payload []byte
		err     error
	}{
		"empty onward":       {nil, nil, nil, ErrEmptyRoute},
		"onward too long":    {long, nil, nil, ErrRouteTooLong},
		"return too long":    {Route{{Local, "a"}}, long, nil, ErrRouteTooLong},
		"address too long":   {Route{{Local, strings.Repeat("x", 256)}}, nil, nil, ErrAddressTooLong},
		"zero address":       {Route{{}}, nil, nil, ErrEmptyAddress},
		"frame over the max": {Route{{Local, "a"}}, nil, make([]byte, MinFrame), ErrFrameTooLarge},
	} {
		m, err := p.Build(tc.on, tc.ret, tc.payload)
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.err)
		}
		if m != nil {
			t.Errorf("%s: got a message", name)
		}
	}
	if p.Live() != 0 {
		t.Fatalf("live = %d after refused builds", p.Live())
	}
}

func TestBuildRoundTrip(t *testing.T) {
	p := NewPool(0)
	on := MustParseRoute("h1 => 1#127.0.0.1:4000 => echoer")
	ret := MustParseRoute("app => 2#10.0.0.1:9")
	m, err := p.Build(on, ret, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	checkMsg(t, m, on, ret, "hello")
	d, err := p.Decode(m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	checkMsg(t, d, on, ret, "hello")
}

func checkMsg(t *testing.T, m *Message, on, ret Route, payload string) {
	t.Helper()
	if got := m.Onward(); !got.Equal(on) {
		t.Errorf("onward = [%v], want [%v]", got, on)
	}
	if got := m.Return(); !got.Equal(ret) {
		t.Errorf("return = [%v], want [%v]", got, ret)
	}
	if string(m.Payload()) != payload {
		t.Errorf("payload = %q, want %q", m.Payload(), payload)
	}
	if m.OnwardLen() != len(on) || m.ReturnLen() != len(ret) {
		t.Errorf("counts %d/%d, want %d/%d", m.OnwardLen(), m.ReturnLen(), len(on), len(ret))
	}
	if len(on) > 0 && m.NextAddress() != on[0] {
		t.Errorf("next = %v, want %v", m.NextAddress(), on[0])
	}
}

func TestHopTurnSeedExample(t *testing.T) {
	// The seed's route: app -> h1 -> h2 -> h3 -> echoer and back.
	p := NewPool(0)
	m, err := p.Build(MustParseRoute("h1=>h2=>h3=>echoer"), MustParseRoute("app"), []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	payload := &m.Payload()[0]
	for range 3 {
		if err := m.Hop(); err != nil {
			t.Fatal(err)
		}
	}
	checkMsg(t, m, MustParseRoute("echoer"), MustParseRoute("h3=>h2=>h1=>app"), "hi")
	if err := m.Turn(MustParseAddress("echoer")); err != nil {
		t.Fatal(err)
	}
	checkMsg(t, m, MustParseRoute("h3=>h2=>h1=>app"), MustParseRoute("echoer"), "hi")
	for range 3 {
		if err := m.Hop(); err != nil {
			t.Fatal(err)
		}
	}
	checkMsg(t, m, MustParseRoute("app"), MustParseRoute("h1=>h2=>h3=>echoer"), "hi")
	if &m.Payload()[0] != payload {
		t.Error("payload moved")
	}
}

// ref is the slow, obvious model the in-place operations are checked against.
type ref struct {
	on, ret Route
	payload []byte
}

func randAddr(r *rand.Rand) Address {
	n := 1 + r.IntN(12)
	if r.IntN(20) == 0 {
		n = 200 + r.IntN(56)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	return Address{Type(r.IntN(3)), string(b)}
}

func randRoute(r *rand.Rand, max int) Route {
	rt := make(Route, r.IntN(max+1))
	for i := range rt {
		rt[i] = randAddr(r)
	}
	return rt
}

func TestOpsAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := NewPool(0)
	iters := 2000
	if testing.Short() {
		iters = 200
	}
	for it := 0; it < iters; it++ {
		want := ref{on: append(Route{randAddr(rng)}, randRoute(rng, 6)...), ret: randRoute(rng, 6)}
		want.payload = make([]byte, rng.IntN(3000))
		for i := range want.payload {
			want.payload[i] = byte(i)
		}
		m, err := p.Build(want.on, want.ret, want.payload)
		if err != nil {
			t.Fatal(err)
		}
		for op := 0; op < 20; op++ {
			var err, wantErr error
			switch rng.IntN(5) {
			case 0:
				err = m.Hop()
				if len(want.on) == 0 {
					wantErr = ErrEmptyRoute
				} else {
					want.ret = append(Route{want.on[0]}, want.ret...)
					want.on = want.on[1:]
				}
			case 1:
				err = m.Step()
				if len(want.on) == 0 {
					wantErr = ErrEmptyRoute
				} else {
					want.on = want.on[1:]
				}
			case 2:
				a := randAddr(rng)
				err = m.PrependReturn(a)
				want.ret = append(Route{a}, want.ret...)
			case 3:
				via := randRoute(rng, 3)
				err = m.Redirect(via)
				if len(want.on) == 0 {
					wantErr = ErrEmptyRoute
				} else {
					want.on = append(append(Route{}, via...), want.on[1:]...)
				}
			case 4:
				self := randAddr(rng)
				err = m.Turn(self)
				if len(want.ret) == 0 {
					wantErr = ErrEmptyRoute
				} else {
					want.on, want.ret = want.ret, Route{self}
				}
			}
			if !errors.Is(err, wantErr) {
				t.Fatalf("iter %d op %d: err %v want %v", it, op, err, wantErr)
			}
			if len(want.on) > 40 || len(want.ret) > 40 {
				break
			}
			checkMsg(t, m, want.on, want.ret, string(want.payload))
			// The encoding must be the canonical one Build makes.
			if len(want.on) > 0 {
				b, err := p.Build(want.on, want.ret, want.payload)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b.Bytes(), m.Bytes()) {
					t.Fatalf("iter %d op %d: encoding differs from Build", it, op)
				}
				b.Release()
			}
		}
		m.Release()
	}
	if p.Live() != 0 {
		t.Fatalf("live = %d", p.Live())
	}
}

func TestHeaderGrowthPastHeadroom(t *testing.T) {
	p := NewPool(0)
	m, err := p.Build(MustParseRoute("a"), nil, []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	big := Route{randAddr(rand.New(rand.NewPCG(3, 4)))}
	var ret Route
	for i := 0; i < 10; i++ {
		a := Address{Local, strings.Repeat(string(rune('a'+i)), 200)}
		if err := m.PrependReturn(a); err != nil {
			t.Fatal(err)
		}
		ret = append(Route{a}, ret...)
	}
	checkMsg(t, m, MustParseRoute("a"), ret, "payload")
	if err := m.Redirect(append(big, big...)); err != nil {
		t.Fatal(err)
	}
	checkMsg(t, m, append(big, big...), ret, "payload")
}

func TestRouteLimitsOnOps(t *testing.T) {
	p := NewPool(0)
	full := make(Route, MaxRouteLen)
	for i := range full {
		full[i] = Address{Local, "r"}
	}
	m, err := p.Build(MustParseRoute("a=>b"), full, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	if err := m.Hop(); !errors.Is(err, ErrRouteTooLong) {
		t.Errorf("Hop onto a full return route: %v", err)
	}
	if err := m.PrependReturn(MustParseAddress("x")); !errors.Is(err, ErrRouteTooLong) {
		t.Errorf("PrependReturn onto a full return route: %v", err)
	}
	if err := m.Redirect(full); !errors.Is(err, ErrRouteTooLong) {
		t.Errorf("Redirect past the limit: %v", err)
	}
	checkMsg(t, m, MustParseRoute("a=>b"), full, "")
}

func TestDecodeErrors(t *testing.T) {
	p := NewPool(MinFrame)
	for _, tc := range []struct {
		in     []byte
		err    error
		offset int
		field  string
	}{
		{[]byte{0, 9, 1}, ErrTruncated, 3, "header"},
		{[]byte{4, 9, 1, 0}, ErrBadFlags, 0, "flags"},
		{[]byte{0, 9, 1, 0}, ErrTruncated, 4, "onward[0].header"},
		{[]byte{0, 9, 1, 0, 0, 0}, ErrEmptyAddress, 5, "onward[0].len"},
		{[]byte{0, 9, 1, 0, 0, 5, 'a'}, ErrTruncated, 6, "onward[0].value"},
		{[]byte{0, 9, 1, 1, 0, 1, 'a', 0}, ErrTruncated, 7, "onward[0].header"},
		{make([]byte, MinFrame+1), ErrFrameTooLarge, 0, "frame length"},
	} {
		m, err := p.Decode(tc.in)
		var de *DecodeError
		if m != nil || !errors.Is(err, tc.err) || !errors.As(err, &de) || de.Offset != tc.offset || de.Field != tc.field {
			t.Errorf("Decode(%v) = %v; want %v at %d (%s)", tc.in, err, tc.err, tc.offset, tc.field)
		}
	}
	if p.Live() != 0 {
		t.Fatalf("live = %d after failed decodes", p.Live())
	}
	var de *DecodeError
	if _, err := FrameLen([]byte{0xff, 0, 0, 0}, DefaultMaxFrame); !errors.As(err, &de) || !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("FrameLen over max: %v", err)
	}
}

func TestFrame(t *testing.T) {
	p := NewPool(0)
	m, _ := p.Build(MustParseRoute("a"), nil, []byte("xyz"))
	defer m.Release()
	f := m.Frame()
	n, err := FrameLen(f, p.MaxFrame())
	if err != nil || n != m.Len() || !bytes.Equal(f[FramePrefixLen:], m.Bytes()) {
		t.Fatalf("frame %v: n=%d err=%v", f, n, err)
	}
}

func TestDoubleReleasePanics(t *testing.T) {
	p := NewPool(0)
	m, _ := p.Build(MustParseRoute("a"), nil, nil)
	m.Release()
	defer func() {
		if recover() == nil {
			t.Fatal("second Release did not panic")
		}
	}()
	m.Release()
}

func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	p := NewPool(0)
	on, ret := MustParseRoute("h1=>h2=>h3=>echoer"), MustParseRoute("app")
	self := MustParseAddress("echoer")
	conn := MustParseAddress("0#0123456789abcdef0123456789abcdef")
	via := MustParseRoute("1#127.0.0.1:4000=>fwd")
	payload := make([]byte, 64)
	// Warm the pool.
	m, _ := p.Build(on, ret, payload)
	m.Release()
	n := testing.AllocsPerRun(1000, func() {
		m, err := p.Build(on, ret, payload)
		if err != nil {
			panic(err)
		}
		m.Hop()
		m.Hop()
		m.Redirect(via)
		m.Step()
		m.PrependReturn(conn)
		m.Hop()
		m.Turn(self)
		m.Hop()
		m.Next()
		m.Frame()
		m.Release()
	})
	if n != 0 {
		t.Fatalf("%v allocs per build, hops, turn and release; want 0", n)
	}
}

func TestSetPayload(t *testing.T) {
	p := NewPool(MinFrame * 8)
	on, ret := MustParseRoute("a => b"), MustParseRoute("app")
	m, err := p.Build(on, ret, []byte("short"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	if err := m.SetPayload([]byte("a little longer")); err != nil {
		t.Fatal(err)
	}
	checkMsg(t, m, on, ret, "a little longer")
	big := bytes.Repeat([]byte("x"), 4000) // past the 512-byte buffer: the message moves once
	if err := m.SetPayload(big); err != nil {
		t.Fatal(err)
	}
	checkMsg(t, m, on, ret, string(big))
	if err := m.SetPayload(make([]byte, MinFrame*8)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("payload over the max frame: %v", err)
	}
	checkMsg(t, m, on, ret, string(big))
}

func TestHopsAndFlags(t *testing.T) {
	p := NewPool(0)
	m, err := p.Build(MustParseRoute("a => b"), MustParseRoute("app"), []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	if m.Hops() != DefaultHops || m.Flags() != 0 {
		t.Fatalf("built: hops %d flags %d", m.Hops(), m.Flags())
	}
	m.SetHops(2)
	m.SetFlags(FlagCompressed)
	if !m.SpendHop() || !m.SpendHop() || m.SpendHop() || m.Hops() != 0 {
		t.Fatalf("spending a budget of 2: hops %d", m.Hops())
	}
	m.SetHops(7)
	// Every operation that moves the front of the header keeps both bytes.
	if err := m.Hop(); err != nil {
		t.Fatal(err)
	}
	if err := m.PrependReturn(MustParseAddress("0#conn")); err != nil {
		t.Fatal(err)
	}
	if err := m.Step(); err != nil {
		t.Fatal(err)
	}
	if err := m.Turn(MustParseAddress("echoer-with-a-long-name")); err != nil {
		t.Fatal(err)
	}
	if m.Hops() != 7 || m.Flags() != FlagCompressed {
		t.Fatalf("after Hop, PrependReturn, Step, Turn: hops %d flags %d; want 7, %d", m.Hops(), m.Flags(), FlagCompressed)
	}
	if d, err := p.Decode(m.Bytes()); err != nil || d.Hops() != 7 || d.Flags() != FlagCompressed {
		t.Fatalf("decoded: %v", err)
	} else {
		d.Release()
	}
}

func TestDatagram(t *testing.T) {
	p := NewPool(0)
	m, err := p.Build(MustParseRoute("echoer"), MustParseRoute("app"), []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	d := m.Datagram()
	if d[0] != Version || !bytes.Equal(d[1:], m.Bytes()) {
		t.Fatalf("datagram %x", d)
	}
	if b, err := DatagramMessage(d); err != nil || !bytes.Equal(b, m.Bytes()) {
		t.Fatalf("DatagramMessage: %v", err)
	}
	for _, bad := range [][]byte{nil, {1, 0, 9, 1, 0}} {
		if _, err := DatagramMessage(bad); err == nil {
			t.Errorf("DatagramMessage(%x) accepted", bad)
		}
	}
}

func TestHandshake(t *testing.T) {
	mine := LocalHello(CapS2 | CapZstd)
	b := mine.Append(nil)
	if len(b) != HelloLen {
		t.Fatalf("hello is %d bytes", len(b))
	}
	got, err := ParseHello(b)
	if err != nil || got != mine {
		t.Fatalf("ParseHello = %+v, %v", got, err)
	}
	for _, tc := range []struct {
		name   string
		theirs Hello
		v      uint8
		caps   Caps
		ok     bool
	}{
		{"same", mine, Version, CapS2 | CapZstd, true},
		{"fewer caps", Hello{MinVersion: Version, MaxVersion: Version, Caps: CapS2 | 1<<20}, Version, CapS2, true},
		{"newer peer", Hello{MinVersion: Version, MaxVersion: Version + 3}, Version, 0, true},
		{"older peer", Hello{MinVersion: 1, MaxVersion: 1}, 0, 0, false},
		{"newer only", Hello{MinVersion: Version + 1, MaxVersion: Version + 1}, 0, 0, false},
	} {
		v, caps, err := Negotiate(mine, tc.theirs)
		if tc.ok != (err == nil) || v != tc.v || caps != tc.caps {
			t.Errorf("%s: Negotiate = %d, %b, %v", tc.name, v, caps, err)
		}
		if err != nil && (!errors.Is(err, ErrBadVersion) || !strings.Contains(err.Error(), "peer speaks")) {
			t.Errorf("%s: error %q", tc.name, err)
		}
	}
	for _, bad := range [][]byte{{1}, {'H', 'X'}, {'H', 'W', 0, 2, 0, 0, 0, 0}, {'H', 'W', 3, 2, 0, 0, 0, 0}} {
		if _, err := ParseHello(bad); !errors.Is(err, ErrBadHandshake) {
			t.Errorf("ParseHello(%x) = %v; want ErrBadHandshake", bad, err)
		}
	}
	if _, err := ParseHello([]byte{'H', 'W', 2}); !errors.Is(err, ErrTruncated) {
		t.Errorf("short hello: %v", err)
	}
}

// Resize keeps what Raw holds while it grows the message (by moves into
// larger buffers) and when it shrinks it, refuses sizes over the max
// frame, and leaves a message that parses and releases as usual.
func TestResize(t *testing.T) {
	const maxFrame = 4 << 20
	p := NewPool(maxFrame)
	enc := func() []byte {
		m, err := p.Build(MustParseRoute("a => b"), MustParseRoute("app"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Release()
		return bytes.Clone(m.Bytes())
	}()
	// The stream a reader would see: a header, then a payload of
	// counting bytes up to the max frame.
	want := make([]byte, maxFrame)
	copy(want, enc)
	for i := len(enc); i < len(want); i++ {
		want[i] = byte(i * 7)
	}
	m, err := p.Alloc(100)
	if err != nil {
		t.Fatal(err)
	}
	filled := copy(m.Raw(), want)
	moves := 0
	for filled < len(want) {
		// Double, as a reader does, and fill what was added.
		n := min(len(want), 2*m.Len())
		before := m.Cap()
		if err := m.Resize(n); err != nil {
			t.Fatal(err)
		}
		if m.Cap() != before {
			moves++
		}
		if m.Len() != n || m.Cap() < n {
			t.Fatalf("Resize(%d): Len %d, Cap %d", n, m.Len(), m.Cap())
		}
		if !bytes.Equal(m.Raw()[:filled], want[:filled]) {
			t.Fatalf("Resize(%d) lost what Raw held", n)
		}
		filled += copy(m.Raw()[filled:], want[filled:])
	}
	if moves < 10 {
		t.Fatalf("%d moves from 100 bytes to 4 MiB: the buffer did not grow", moves)
	}
	if err := m.Resize(maxFrame + 1); !errors.Is(err, ErrFrameTooLarge) || m.Len() != maxFrame || !bytes.Equal(m.Raw(), want) {
		t.Fatalf("Resize over the max frame: %v, Len %d", err, m.Len())
	}
	if err := m.Parse(); err != nil {
		t.Fatal(err)
	}
	checkMsg(t, m, MustParseRoute("a=>b"), MustParseRoute("app"), string(m.Payload()))
	if !bytes.Equal(m.Payload(), want[len(enc):]) {
		t.Fatal("payload differs from what was filled")
	}

	// Shrinking keeps the start and moves nothing.
	c := m.Cap()
	if err := m.Resize(len(enc)); err != nil || m.Cap() != c || !bytes.Equal(m.Raw(), enc) {
		t.Fatalf("shrink: %v, Cap %d -> %d", err, c, m.Cap())
	}
	if err := m.Parse(); err != nil {
		t.Fatal(err)
	}
	checkMsg(t, m, MustParseRoute("a=>b"), MustParseRoute("app"), "")
	m.Release()
	if p.Live() != 0 {
		t.Fatalf("live = %d", p.Live())
	}
}

// Resize within Cap does not allocate, and neither does growth past it
// once the pool has buffers of the sizes it grows through.
func TestResizeDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	p := NewPool(0)
	grow := func() {
		m, err := p.Alloc(1000)
		if err != nil {
			panic(err)
		}
		if err := m.Resize(m.Cap()); err != nil {
			panic(err)
		}
		for m.Len() < 256<<10 {
			if err := m.Resize(2 * m.Len()); err != nil {
				panic(err)
			}
		}
		m.Release()
	}
	grow() // warm the pool
	if a := testing.AllocsPerRun(100, grow); a != 0 {
		t.Fatalf("%v allocations growing a message from 1000 bytes to 256 KiB", a)
	}
}

// A route's text with an empty position says which.
func TestParseRouteSaysWhere(t *testing.T) {
	_, err := ParseRoute("a => => b")
	var ae *AddressError
	if !errors.Is(err, ErrEmptyAddress) || !errors.As(err, &ae) || ae.Position != 2 || !strings.Contains(err.Error(), "position 2") {
		t.Fatalf("ParseRoute: %v", err)
	}
	if _, err := ParseRoute("a => 999#x"); !errors.As(err, &ae) || ae.Position != 2 {
		t.Fatalf("bad type at position 2: %v", err)
	}
}
