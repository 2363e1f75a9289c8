package wire

import "encoding/binary"

// Stream framing, as the TCP transport uses it.
//
// On connect each side sends one byte, its protocol Version, and reads the
// peer's; a mismatch closes the connection. After that every message is
//
//	length u32 big-endian | message (header and payload, see Message)
//
// where 1 <= length <= the receiver's max frame size. The sender writes the
// length into the headroom in front of the header, so a frame goes to the
// socket straight from the message buffer.
const (
	Version         byte = 1
	FramePrefixLen       = 4
	DefaultMaxFrame      = 16 << 20
	MinFrame             = 1 << 10
	MaxFrameLimit        = 1 << 30
)

// Frame writes the length prefix in front of the header and returns the
// whole frame, valid until the next header operation or Release. It does
// not allocate.
func (m *Message) Frame() []byte {
	s := m.start - FramePrefixLen
	binary.BigEndian.PutUint32(m.buf[s:], uint32(m.end-m.start))
	return m.buf[s:m.end:m.end]
}

// FrameLen reads a frame's length prefix and checks it against maxFrame.
// p must hold at least FramePrefixLen bytes.
func FrameLen(p []byte, maxFrame int) (int, error) {
	n := binary.BigEndian.Uint32(p)
	if n < hdrCounts {
		return 0, &DecodeError{Offset: 0, Field: "frame length", Err: ErrTruncated}
	}
	if uint64(n) > uint64(maxFrame) {
		return 0, &DecodeError{Offset: 0, Field: "frame length", Err: ErrFrameTooLarge}
	}
	return int(n), nil
}
