package wire

import (
	"encoding/binary"
	"strconv"
)

// Handshake
//
// Each end of a stream connection sends a Hello first and reads the
// peer's:
//
//	magic "HW" | minVersion u8 | maxVersion u8 | caps u32 big-endian
//
// 8 bytes. The two settle on the highest version both speak and on the
// capabilities both offer (Negotiate). There is no fallback: a peer that
// shares no version, or does not open with the magic — hopwire's first
// protocol sent a lone version byte 1 — is refused with a reason that says
// which, and the connection closes. Capability bits a side does not know
// it ignores, so a newer peer can offer more.

// HelloLen is the size of an encoded Hello.
const HelloLen = 8

// MinVersion is the oldest header version this package reads.
const MinVersion = Version

var helloMagic = [2]byte{'H', 'W'}

// Caps are capability bits offered in a Hello.
type Caps uint32

// Capabilities defined so far.
const (
	CapS2   Caps = 1 << 0 // S2-compressed payloads
	CapZstd Caps = 1 << 1 // zstd-compressed payloads
)

// Hello is one side's handshake: the header versions it speaks and the
// capabilities it offers.
type Hello struct {
	MinVersion, MaxVersion uint8
	Caps                   Caps
}

// LocalHello is this package's Hello with the given capabilities.
func LocalHello(caps Caps) Hello {
	return Hello{MinVersion: MinVersion, MaxVersion: Version, Caps: caps}
}

// Append appends the encoded Hello to b.
func (h Hello) Append(b []byte) []byte {
	b = append(b, helloMagic[0], helloMagic[1], h.MinVersion, h.MaxVersion)
	return binary.BigEndian.AppendUint32(b, uint32(h.Caps))
}

// ParseHello decodes a Hello from the first HelloLen bytes of b. It reads
// nothing past them and does not allocate unless it reports an error, a
// *DecodeError wrapping ErrTruncated or ErrBadHandshake.
func ParseHello(b []byte) (Hello, error) {
	if len(b) > 0 && b[0] != helloMagic[0] || len(b) > 1 && b[1] != helloMagic[1] {
		return Hello{}, &DecodeError{Offset: 0, Field: "hello magic", Err: ErrBadHandshake}
	}
	if len(b) < HelloLen {
		return Hello{}, &DecodeError{Offset: len(b), Field: "hello", Err: ErrTruncated}
	}
	h := Hello{MinVersion: b[2], MaxVersion: b[3], Caps: Caps(binary.BigEndian.Uint32(b[4:]))}
	if h.MinVersion == 0 || h.MinVersion > h.MaxVersion {
		return Hello{}, &DecodeError{Offset: 2, Field: "hello versions", Err: ErrBadHandshake}
	}
	return h, nil
}

// Negotiate settles a connection: the highest version both sides speak
// and the capabilities both offer. With no common version it returns an
// error wrapping ErrBadVersion that gives both ranges.
func Negotiate(mine, theirs Hello) (version uint8, caps Caps, err error) {
	v := min(mine.MaxVersion, theirs.MaxVersion)
	if v < mine.MinVersion || v < theirs.MinVersion {
		return 0, 0, &VersionError{Mine: mine, Theirs: theirs}
	}
	return v, mine.Caps & theirs.Caps, nil
}

// VersionError says that two sides share no header version.
type VersionError struct{ Mine, Theirs Hello }

func (e *VersionError) Error() string {
	return ErrBadVersion.Error() + ": peer speaks " + versions(e.Theirs) + ", this node " + versions(e.Mine)
}

func (e *VersionError) Unwrap() error { return ErrBadVersion }

func versions(h Hello) string {
	if h.MinVersion == h.MaxVersion {
		return "version " + strconv.Itoa(int(h.MinVersion))
	}
	return "versions " + strconv.Itoa(int(h.MinVersion)) + "-" + strconv.Itoa(int(h.MaxVersion))
}
