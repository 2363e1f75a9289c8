package wire

// Build returns a new Message with the given routes and a copy of payload:
// the one copy a payload gets when it enters a node. Routes over the limits,
// an empty onward route and a message over the pool's max frame are refused
// here, so a receiver never meets them.
func (p *Pool) Build(onward, ret Route, payload []byte) (*Message, error) {
	return p.build(nil, onward, ret, payload)
}

// build is Build taking the message from c when it is not nil.
func (p *Pool) build(c *Cache, onward, ret Route, payload []byte) (*Message, error) {
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
	n := hdrFixed + on + rt + len(payload)
	var m *Message
	if c != nil {
		m, err = c.alloc(n)
	} else {
		m, err = p.alloc(n)
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
func (m *Message) Raw() []byte { return m.buf[m.start:m.end:m.end] }

// Parse checks the header of the encoded message in Raw and sets the
// offsets the other methods use. It reads nothing outside Raw, never panics,
// and does not allocate unless it reports an error.
func (m *Message) Parse() error {
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
