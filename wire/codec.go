package wire

// Build returns a new Message with the given routes and a copy of payload:
// the one copy a payload gets when it enters a node. Routes over the limits,
// an empty onward route and a message over the pool's max frame are refused
// here, so a receiver never meets them.
func (p *Pool) Build(onward, ret Route, payload []byte) (*Message, error) {
	return p.build(nil, onward, ret, payload, len(payload))
}

// BuildRoom is Build with room for a payload of n bytes instead of a copy
// of one: the message's Payload is n bytes long and writable, for a reader
// to fill straight from its source (a stream: a portal's socket), so the
// bytes go from the kernel into the message with no copy in between. The
// reader then cuts the payload to what it got with SetPayloadLen, which
// moves nothing.
//
// The n bytes are not cleared: they hold whatever the buffer held last,
// perhaps another message's payload, so the caller fills them or cuts
// them off before it hands the message on. n < 0 panics.
func (p *Pool) BuildRoom(onward, ret Route, n int) (*Message, error) {
	if n < 0 {
		panic("wire: negative payload room")
	}
	return p.build(nil, onward, ret, nil, n)
}

// build is Build taking the message from c when it is not nil, with a
// payload of n bytes of which the first len(payload) are copied from
// payload and the rest left as they are.
func (p *Pool) build(c *Cache, onward, ret Route, payload []byte, n int) (*Message, error) {
	if len(onward) == 0 {
		return nil, ErrEmptyRoute
	}
	on, err := onward.size()
	if err != nil {
		return nil, err
	}
	rt, err := ret.size()
	if err != nil {
		return nil, err
	}
	var m *Message
	if c != nil {
		m, err = c.alloc(hdrFixed + on + rt + n)
	} else {
		m, err = p.alloc(hdrFixed + on + rt + n)
	}
	if err != nil {
		return nil, err
	}
	b := m.buf
	i := m.start
	b[i+offFlags], b[i+offHops] = 0, DefaultHops
	b[i+offOnward], b[i+offReturn] = byte(len(onward)), byte(len(ret))
	i += hdrFixed
	for j := len(ret) - 1; j >= 0; j-- {
		i += ret[j].put(b[i:])
	}
	m.cur = i
	for _, a := range onward {
		i += a.put(b[i:])
	}
	m.body = i
	copy(b[i:m.end], payload)
	return m, nil
}

// PayloadCap returns how long SetPayloadLen can make the payload: the
// room the buffer has after the header, within the pool's max frame. It
// is at least len(Payload()).
func (m *Message) PayloadCap() int {
	return min(len(m.buf), m.start+m.pool.maxFrame) - m.body
}

// SetPayloadLen sets the payload's length to k, keeping its first
// min(k, len(Payload())) bytes, without moving anything: for a reader that
// filled the room BuildRoom made and keeps what it got. Bytes past the old
// length are not cleared. k over PayloadCap is refused with ErrNoRoom and
// the message is left as it was; k < 0 panics. It does not allocate.
//
// Slices taken before keep their length; Bytes, Frame and Datagram are
// stale after it, Payload's bytes stay where they are.
func (m *Message) SetPayloadLen(k int) error {
	m.use()
	if k < 0 {
		panic("wire: negative payload length")
	}
	if k > m.PayloadCap() {
		return ErrNoRoom
	}
	m.end = m.body + k
	return nil
}

// Decode copies an encoded message into a pooled Message and checks its
// header. On error nothing is kept and the error is a *DecodeError.
func (p *Pool) Decode(b []byte) (*Message, error) {
	m, err := p.Alloc(len(b))
	if err != nil {
		return nil, err
	}
	copy(m.Raw(), b)
	if err := m.Parse(); err != nil {
		m.Release()
		return nil, err
	}
	return m, nil
}

// Alloc returns a Message with room for an encoded message of n bytes,
// for a transport to read into through Raw and then check with Parse.
func (p *Pool) Alloc(n int) (*Message, error) {
	if n > p.maxFrame {
		return nil, &DecodeError{Offset: 0, Field: "frame length", Err: ErrFrameTooLarge}
	}
	return p.alloc(n)
}

// Raw returns the buffer of the encoded message, for filling after Alloc.
// It is valid until Resize (which may move the message), a header
// operation, hand-off or Release.
func (m *Message) Raw() []byte {
	m.use()
	return m.buf[m.start:m.end:m.end]
}

// Cap returns how many encoded bytes the message's buffer holds: Resize
// up to it moves nothing. It is at least Len.
func (m *Message) Cap() int { return len(m.buf) - m.start }

// Resize sets the length of the encoded message in Raw to n, keeping the
// first min(n, Len()) bytes, for a transport that reads a frame into a
// message as its bytes arrive: it allocates for what it has (Alloc) and
// grows the message as more comes. Bytes past the old length are not
// cleared.
//
// Up to Cap it moves nothing and does not allocate. Past it the message
// moves once, its Raw copied, into a buffer of the size class that holds
// n with Headroom in front, taken from the pool (allocated when the pool
// has none of that class); the old buffer goes back to the pool. Grown
// by doubling, a message is thus copied less than twice its final size in
// all. n over the pool's max frame is refused with ErrFrameTooLarge and
// the message is left as it was.
//
// Only the message's owner calls it, on a message filled through Raw and
// not yet parsed (Parse sets the header offsets that a move would not
// keep). Slices from Raw, Bytes and Payload are stale after it.
func (m *Message) Resize(n int) error {
	m.use()
	if n < 0 {
		panic("wire: negative message size")
	}
	if n > m.pool.maxFrame {
		return ErrFrameTooLarge
	}
	if n > m.Cap() {
		if err := m.move(Headroom, n); err != nil {
			return err
		}
	}
	m.cur, m.body, m.end = m.start, m.start, m.start+n
	return nil
}

// Parse checks the header of the encoded message in Raw and sets the
// offsets the other methods use. It reads nothing outside Raw, never panics,
// and does not allocate unless it reports an error.
func (m *Message) Parse() error {
	m.use()
	b := m.buf[m.start:m.end]
	if len(b) < hdrFixed {
		return &DecodeError{Offset: len(b), Field: "header", Err: ErrTruncated}
	}
	if f := Flags(b[offFlags]); f&^KnownFlags != 0 {
		return &DecodeError{Offset: offFlags, Field: "flags", Err: ErrBadFlags}
	}
	i := hdrFixed
	var err error
	if i, err = skipAddrs(b, i, int(b[offReturn]), "return"); err != nil {
		return err
	}
	cur := i
	if i, err = skipAddrs(b, i, int(b[offOnward]), "onward"); err != nil {
		return err
	}
	m.cur, m.body = m.start+cur, m.start+i
	return nil
}

// skipAddrs checks n encoded addresses in b from offset i and returns the
// offset after them.
func skipAddrs(b []byte, i, n int, route string) (int, error) {
	for k := 0; k < n; k++ {
		if len(b)-i < 2 {
			return 0, &DecodeError{Offset: i, Field: addrField(route, k, "header"), Err: ErrTruncated}
		}
		l := int(b[i+1])
		if l == 0 {
			return 0, &DecodeError{Offset: i + 1, Field: addrField(route, k, "len"), Err: ErrEmptyAddress}
		}
		if len(b)-i-2 < l {
			return 0, &DecodeError{Offset: i + 2, Field: addrField(route, k, "value"), Err: ErrTruncated}
		}
		i += 2 + l
	}
	return i, nil
}

func addrField(route string, k int, part string) string {
	return route + "[" + itoa(k) + "]." + part
}

func itoa(n int) string {
	var b [3]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
