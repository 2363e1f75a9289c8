package wire

import "encoding/binary"

// Message layout
//
// A message is a header followed by its payload:
//
//	flags u8 | hops u8 | onwardCount u8 | returnCount u8 | return addresses | onward addresses | payload
//	address:     type u8 | len u8 (1..255) | value [len]byte
//
// flags says how the payload is to be read (Flags; a receiver refuses bits
// it does not know). hops is the message's hop budget, IP's TTL: every
// node the message enters spends one, a reply inherits what is left of
// its request's, and a message that arrives with none left is dropped, so
// no routing loop — two echo services answering each other — runs for
// ever.
//
// The return route is stored farthest-first and the onward route next-first,
// so the header reads as the whole path in travel order with a cursor
// between where the message has been and where it is going — the IPv4
// source-route option's pointer, in effect. Moving the next onward address
// to the front of the return route (a hop) is then a cursor move: no byte of
// the header or payload changes place.
//
// Operations that change the header's size move only the bytes in front of
// the cursor (counts and return route) into the headroom kept before the
// header, so the onward route and the payload stay where they are.

// Headroom is the room kept in front of a header so that header growth
// (a transport prepending its connection address, a reply) does not move
// the payload. Growth past it moves the message once into a larger buffer.
const Headroom = 256

// minStart keeps room for a frame length prefix in front of any header.
const minStart = FramePrefixLen

// Offsets of the fixed part of the header, from its first byte.
const (
	offFlags  = 0
	offHops   = 1
	offOnward = 2
	offReturn = 3
	hdrFixed  = 4
)

// DefaultHops is the hop budget of a message built on a node: how many
// nodes it may enter, its reply included.
const DefaultHops = 64

// Flags are per-message bits saying how the payload is to be read. A
// transport sets only flags its peer agreed to in the handshake; Parse
// refuses bits outside KnownFlags.
type Flags uint8

// Flag bits.
const (
	// FlagCompressed marks a compressed payload (negotiated per connection).
	FlagCompressed Flags = 1 << 0
	// FlagError marks a refusal notice: the payload is one line of UTF-8
	// text from a node on the way saying why the message it answers was
	// dropped there (a worker it cannot reach, a dial it may not make).
	// The notice travels the refused message's return route, nearest
	// first, with an empty return route of its own: nothing answers a
	// notice. It needs no negotiation; it says nothing about encoding.
	FlagError Flags = 1 << 1
)

// KnownFlags are the flag bits this version of the wire defines.
const KnownFlags = FlagCompressed | FlagError

// Message is a pooled, encoded message: backing buffer, header offsets and
// node-local metadata. Its header is rewritten in place; its payload is
// never moved by a route operation that fits the headroom.
//
// A Message has one owner at a time. Whoever holds it either hands it on
// (to a mailbox, a transport) or calls Release; after either it must not
// be touched (see own.go: use after release panics in tests).
//
// Slices returned by its methods alias its buffer. Each method says how
// long its slice is valid; the rules are these. No slice outlives the
// message's hand-off or release. A slice of the header (Bytes, Raw,
// Frame, Datagram, Next's value, ReturnBytes) is stale after any header
// operation, since those rewrite the bytes in front of the payload. The
// payload's bytes (Payload) stay where they are through every header
// operation except the ones that may move the whole message, header and
// payload, into a larger buffer when its headroom or room runs out:
// PrependReturn, Turn, Redirect, SetPayload and Resize. After one of
// those an old Payload slice may point into a buffer that is back in the
// pool. Hop, Step, SetPayloadLen, SetFlags, SetHops and SpendHop never
// move the message; SetPayload and SetPayloadLen change the payload's
// length, which a slice taken before does not follow.
type Message struct {
	buf   []byte
	start int // first header byte
	cur   int // cursor: first onward address; return addresses are [start+2, cur)
	body  int // first payload byte
	end   int // one past the last payload byte
	pool  *Pool
	home  *Cache // the Cache it was built through, if any
	class int8
	// Ownership (own.go): released by its owner; lent to a borrower.
	released, lent bool
	meta           Meta
}

// OnwardLen returns the number of addresses in the onward route.
func (m *Message) OnwardLen() int { return int(m.buf[m.start+offOnward]) }

// ReturnLen returns the number of addresses in the return route.
func (m *Message) ReturnLen() int { return int(m.buf[m.start+offReturn]) }

// Flags returns the message's flags.
func (m *Message) Flags() Flags { return Flags(m.buf[m.start+offFlags]) }

// SetFlags replaces the message's flags, for a transport that has
// encoded the payload accordingly.
func (m *Message) SetFlags(f Flags) { m.buf[m.start+offFlags] = byte(f) }

// Hops returns the message's hop budget: how many more nodes it may enter.
func (m *Message) Hops() int { return int(m.buf[m.start+offHops]) }

// SpendHop takes one from the hop budget, as a node does when the message
// enters it, and reports false, changing nothing, if none was left.
func (m *Message) SpendHop() bool {
	h := m.buf[m.start+offHops]
	if h == 0 {
		return false
	}
	m.buf[m.start+offHops] = h - 1
	return true
}

// SetHops sets the hop budget (at most 255).
func (m *Message) SetHops(n uint8) { m.buf[m.start+offHops] = n }

// Meta returns the message's node-local metadata: where it entered the
// node. Workers read it; only the engine sets it (ClaimMeta).
func (m *Message) Meta() Meta { return m.meta }

// FromNetwork reports whether the message entered the node over a link
// (Meta().Flow != 0), the test a hop makes; it is a load and a compare.
func (m *Message) FromNetwork() bool { return m.meta.Flow != 0 }

// Next returns the first onward address as its type and value bytes, and
// false if the onward route is empty. The value aliases the message's
// header: it is valid until the next header operation (Hop, Step,
// PrependReturn, Turn, Redirect), hand-off or Release. It does not
// allocate.
func (m *Message) Next() (Type, []byte, bool) {
	m.use()
	if m.buf[m.start+offOnward] == 0 {
		return 0, nil, false
	}
	n := int(m.buf[m.cur+1])
	return Type(m.buf[m.cur]), m.buf[m.cur+2 : m.cur+2+n], true
}

// OnwardAt returns the i-th onward address (0 is Next's) as its type and
// value bytes, and false if the route is shorter. The value aliases the
// message. It walks the route and does not allocate.
func (m *Message) OnwardAt(i int) (Type, []byte, bool) {
	if i >= int(m.buf[m.start+offOnward]) || i < 0 {
		return 0, nil, false
	}
	j := m.cur
	for ; i > 0; i-- {
		j += 2 + int(m.buf[j+1])
	}
	n := int(m.buf[j+1])
	return Type(m.buf[j]), m.buf[j+2 : j+2+n], true
}

// NextAddress returns the first onward address as an Address (its value is
// copied into a string), or the zero Address if the route is empty.
func (m *Message) NextAddress() Address {
	t, v, ok := m.Next()
	if !ok {
		return Address{}
	}
	return Address{typ: t, val: string(v)}
}

// Onward decodes the onward route. It allocates; routing uses Next.
func (m *Message) Onward() Route {
	r := make(Route, 0, m.OnwardLen())
	for i := m.cur; i < m.body; i += 2 + int(m.buf[i+1]) {
		r = append(r, Address{typ: Type(m.buf[i]), val: string(m.buf[i+2 : i+2+int(m.buf[i+1])])})
	}
	return r
}

// Return decodes the return route, next address first. It allocates.
func (m *Message) Return() Route {
	r := make(Route, 0, m.ReturnLen())
	for i := m.start + hdrFixed; i < m.cur; i += 2 + int(m.buf[i+1]) {
		r = append(r, Address{typ: Type(m.buf[i]), val: string(m.buf[i+2 : i+2+int(m.buf[i+1])])})
	}
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return r
}

// ReturnBytes returns the encoded return route, farthest address first
// (the order it is stored in), for code that walks it without decoding.
// It aliases the message's header: valid until the next header operation,
// hand-off or Release.
func (m *Message) ReturnBytes() []byte {
	m.use()
	return m.buf[m.start+hdrFixed : m.cur : m.cur]
}

// Payload returns the payload, which may be modified in place. It is
// valid until the message is handed on or released, or until an operation
// that may move the message to a larger buffer: PrependReturn, Turn,
// Redirect, SetPayload or Resize. Hop and Step never move it.
func (m *Message) Payload() []byte {
	m.use()
	return m.buf[m.body:m.end:m.end]
}

// Bytes returns the encoded message, header and payload. It is valid
// until the next header operation (any of them rewrites the header; some
// move the message), hand-off or Release.
func (m *Message) Bytes() []byte {
	m.use()
	return m.buf[m.start:m.end:m.end]
}

// Len returns the encoded size of the message.
func (m *Message) Len() int { return m.end - m.start }

// Hop moves the first onward address to the front of the return route: the
// step a hop worker takes. It moves no bytes and does not allocate; a
// Payload slice stays valid.
func (m *Message) Hop() error {
	m.use()
	on, rt := m.buf[m.start+offOnward], m.buf[m.start+offReturn]
	if on == 0 {
		return ErrEmptyRoute
	}
	if rt == MaxRouteLen {
		return ErrRouteTooLong
	}
	m.cur += 2 + int(m.buf[m.cur+1])
	m.buf[m.start+offOnward], m.buf[m.start+offReturn] = on-1, rt+1
	return nil
}

// Step removes the first onward address, as a transport does when it takes
// a message off a node. It moves only the bytes in front of the cursor,
// never the message: a Payload slice stays valid.
func (m *Message) Step() error {
	m.use()
	on := m.buf[m.start+offOnward]
	if on == 0 {
		return ErrEmptyRoute
	}
	m.shiftFront(2 + int(m.buf[m.cur+1]))
	m.buf[m.start+offOnward] = on - 1
	return nil
}

// PrependReturn puts a at the front of the return route, as a receiving
// transport does with its connection's address so replies come back over
// the same connection. When the headroom in front of the header runs out
// the whole message moves once to a larger buffer: slices taken from it
// before, Payload included, are then stale.
func (m *Message) PrependReturn(a Address) error {
	m.use()
	if err := checkAddr(a); err != nil {
		return err
	}
	rt := m.buf[m.start+offReturn]
	if rt == MaxRouteLen {
		return ErrRouteTooLong
	}
	k := a.encodedLen()
	if err := m.reserve(k); err != nil {
		return err
	}
	cur := m.cur
	m.shiftFront(-k)
	a.put(m.buf[m.cur:])
	m.cur = cur
	m.buf[m.start+offReturn] = rt + 1
	return nil
}

// Redirect replaces the first onward address with route r, as a forwarder
// does; the return route is left as it is. When r is longer than the
// address it replaces and the headroom runs out, the whole message moves
// once to a larger buffer: slices taken from it before, Payload included,
// are then stale.
func (m *Message) Redirect(r Route) error {
	m.use()
	on := int(m.buf[m.start+offOnward])
	if on == 0 {
		return ErrEmptyRoute
	}
	if err := r.Validate(); err != nil {
		return err
	}
	if on-1+len(r) > MaxRouteLen {
		return ErrRouteTooLong
	}
	s, k := 2+int(m.buf[m.cur+1]), r.encodedLen()
	if err := m.reserve(k - s); err != nil {
		return err
	}
	m.shiftFront(s - k)
	i := m.cur
	for _, a := range r {
		i += a.put(m.buf[i:])
	}
	m.buf[m.start+offOnward] = byte(on - 1 + len(r))
	return nil
}

// Turn makes the message a reply to its sender: the return route becomes
// the onward route and the return route becomes [self]. The payload stays
// where it is unless the new header outgrows the old by more than the
// headroom in front of it (self far longer than what is left of the
// onward route): then the whole message moves once to a larger buffer,
// and slices taken from it before, Payload included, are stale.
func (m *Message) Turn(self Address) error {
	m.use()
	if err := checkAddr(self); err != nil {
		return err
	}
	rt := m.buf[m.start+offReturn]
	if rt == 0 {
		return ErrEmptyRoute
	}
	lo, hi := m.start+hdrFixed, m.cur
	newStart := m.body - (hi - lo) - self.encodedLen() - hdrFixed
	if err := m.reserve(m.start - newStart); err != nil {
		return err
	}
	lo, hi = m.start+hdrFixed, m.cur // reserve may have moved the message
	newStart = m.body - (hi - lo) - self.encodedLen() - hdrFixed
	// The reply inherits the request's flags and what is left of its hop
	// budget, so a loop of replies ends too.
	flagsHops := binary.BigEndian.Uint16(m.buf[m.start+offFlags:])
	reverseAddrs(m.buf[lo:hi])
	m.cur = m.body - (hi - lo)
	copy(m.buf[m.cur:], m.buf[lo:hi])
	m.start = newStart
	self.put(m.buf[m.start+hdrFixed:])
	binary.BigEndian.PutUint32(m.buf[m.start:], uint32(flagsHops)<<16|uint32(rt)<<8|1)
	return nil
}

// SetPayload replaces the payload with a copy of p, keeping the header.
// When p does not fit in the buffer the whole message moves once to a
// larger one: slices taken from it before, Payload included, are then
// stale.
func (m *Message) SetPayload(p []byte) error {
	m.use()
	if m.body-m.start+len(p) > m.pool.maxFrame {
		return ErrFrameTooLarge
	}
	if m.body+len(p) > len(m.buf) {
		if err := m.move(m.start, m.body-m.start+len(p)); err != nil {
			return err
		}
	}
	m.end = m.body + copy(m.buf[m.body:m.body+len(p)], p)
	return nil
}

// shiftFront moves the fixed header and return route by d bytes (d < 0: into the
// headroom) and the cursor with them. The caller has reserved the room.
func (m *Message) shiftFront(d int) {
	copy(m.buf[m.start+d:], m.buf[m.start:m.cur])
	m.start += d
	m.cur += d
}

// reserve makes sure the header can grow by n bytes without moving the
// payload, moving the whole message once into a buffer with fresh headroom
// when it cannot.
func (m *Message) reserve(n int) error {
	if m.start-n >= minStart {
		return nil
	}
	if m.end-m.start+n > m.pool.maxFrame {
		return ErrFrameTooLarge
	}
	return m.move(Headroom+n, m.end-m.start)
}

// move copies the message to a buffer of a larger class where the header
// starts at offset at and n bytes fit after it. The buffers are swapped
// with a spare Message of that class, which goes back to the pool holding
// the old buffer.
func (m *Message) move(at, n int) error {
	class := classFor(at + n)
	if class < 0 {
		return ErrFrameTooLarge
	}
	spare := m.pool.get(class)
	size := m.end - m.start
	copy(spare.buf[at:], m.buf[m.start:m.end])
	m.buf, spare.buf = spare.buf, m.buf
	m.class, spare.class = spare.class, m.class
	m.pool.put(spare)
	d := at - m.start
	m.start, m.cur, m.body, m.end = at, m.cur+d, m.body+d, at+size
	return nil
}

// reverseAddrs reverses the order of the encoded addresses in b. Past the
// scratch size it works in place: reverse every byte, then walk back from
// the end, where each reversed address ends with its type and length
// bytes, and reverse each back.
func reverseAddrs(b []byte) {
	var scratch [512]byte
	if len(b) <= len(scratch) {
		// Common case: place each address at its mirrored offset in a
		// scratch copy, a few memmoves instead of a byte-wise reversal.
		for i := 0; i < len(b); {
			n := 2 + int(b[i+1])
			copy(scratch[len(b)-i-n:], b[i:i+n])
			i += n
		}
		copy(b, scratch[:len(b)])
		return
	}
	reverseBytes(b)
	for i := len(b); i > 0; {
		n := 2 + int(b[i-2])
		reverseBytes(b[i-n : i])
		i -= n
	}
}

func reverseBytes(b []byte) {
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
}

func checkAddr(a Address) error {
	if a.val == "" {
		return addrErr(a.val, ErrEmptyAddress)
	}
	if len(a.val) > MaxAddressLen {
		return addrErr(a.val, ErrAddressTooLong)
	}
	return nil
}
