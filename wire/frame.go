package wire

import "encoding/binary"

// Stream framing, as the TCP transport uses it.
//
// On connect each side sends its Hello (handshake.go) and reads the
// peer's; both settle on the highest common version and the capabilities
// both offer, or close. After that every message is
//
//	length u32 big-endian | message (header and payload, see Message)
//
// where 4 <= length <= the receiver's max frame size. The sender writes the
// length into the headroom in front of the header, so a frame goes to the
// socket straight from the message buffer.
//
// Datagram framing, as the UDP transport uses it: one message per
// datagram, behind one byte, the Version of its header:
//
//	version u8 | message
//
// A datagram has no handshake to settle a version in, so it carries one.
const (
	Version         byte = 2 // the message header's version: flags, hops, routes
	FramePrefixLen       = 4
	DefaultMaxFrame      = 16 << 20
	MinFrame             = 1 << 10
	MaxFrameLimit        = 1 << 30
)

// Frame writes the length prefix in front of the header and returns the
// whole frame. It is valid until the next header operation (any of them
// rewrites or moves the header), SetPayload, SetPayloadLen, hand-off or
// Release. It does not allocate.
func (m *Message) Frame() []byte {
	m.use()
	s := m.start - FramePrefixLen
	binary.BigEndian.PutUint32(m.buf[s:], uint32(m.end-m.start))
	return m.buf[s:m.end:m.end]
}

// FrameLen reads a frame's length prefix and checks it against maxFrame.
// p must hold at least FramePrefixLen bytes.
func FrameLen(p []byte, maxFrame int) (int, error) {
	n := binary.BigEndian.Uint32(p)
	if n < hdrFixed {
		return 0, &DecodeError{Offset: 0, Field: "frame length", Err: ErrTruncated}
	}
	if uint64(n) > uint64(maxFrame) {
		return 0, &DecodeError{Offset: 0, Field: "frame length", Err: ErrFrameTooLarge}
	}
	return int(n), nil
}

// Datagram writes the version byte in front of the header and returns the
// whole datagram. It is valid until the next header operation (any of
// them rewrites or moves the header), SetPayload, SetPayloadLen, hand-off
// or Release. It does not allocate.
func (m *Message) Datagram() []byte {
	m.use()
	s := m.start - 1
	m.buf[s] = Version
	return m.buf[s:m.end:m.end]
}

// DatagramMessage checks a datagram's version byte and returns the
// encoded message behind it, or a *DecodeError. It does not allocate,
// not even its errors: a flood of bad datagrams costs no garbage.
func DatagramMessage(d []byte) ([]byte, error) {
	if len(d) == 0 {
		return nil, errEmptyDatagram
	}
	if d[0] != Version {
		return nil, errDatagramVersion
	}
	return d[1:], nil
}

var (
	errEmptyDatagram   = &DecodeError{Offset: 0, Field: "version", Err: ErrTruncated}
	errDatagramVersion = &DecodeError{Offset: 0, Field: "version", Err: ErrBadVersion}
)
