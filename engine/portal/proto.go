package portal

import (
	"encoding/binary"
	"errors"

	"github.com/hopwire/hopwire/wire"
)

// Kinds: the first byte of every portal message's payload (doc.go has
// the layout of each).
const (
	kindOpen   byte = 1  // inlet → outlet: version u8, window u32, chunk u32, [codec u8]
	kindOK     byte = 2  // outlet → inlet: window u32, chunk u32, [codec u8]
	kindErr    byte = 3  // outlet → inlet: text
	kindData   byte = 4  // either way: seq u32, bytes of the stream (at least one)
	kindCredit byte = 5  // either way: total u64, the credit returned since the session began
	kindEOF    byte = 6  // either way: the sender's socket read EOF; count u32 of DATA sent before it
	kindClose  byte = 7  // either way: the sender closed its session
	kindReset  byte = 8  // either way: the sender aborted its session; optional text
	kindProbe  byte = 9  // either way: the sender has waited for credit; answer with a CREDIT
	kindDataZ  byte = 10 // either way: seq u32, bytes of the stream compressed with the session's codec
)

// version is the session protocol's version, carried by OPEN.
const version = 1

// Sizes and limits of the protocol.
const (
	openLen   = 1 + 1 + 4 + 4 // kind, version, window, chunk
	okLen     = 1 + 4 + 4     // kind, window, chunk
	creditLen = 1 + 8         // kind, total
	dataHdr   = 1 + 4         // kind, seq: DATA's bytes start here
	eofLen    = 1 + 4         // kind, count
	// msgCost is the credit a DATA message costs beyond its bytes, so
	// that a peer sending one byte at a time cannot make a receiver hold
	// window messages: at most window/msgCost messages are in flight.
	msgCost = 256
	// minWindow and maxWindow bound the window a peer may announce;
	// minChunk and maxChunk the chunk.
	minWindow = 4 << 10
	maxWindow = 64 << 20
	minChunk  = 1 << 10
	maxChunk  = 1 << 20
	// maxText bounds the text of ERR and RESET.
	maxText = 200
)

// Protocol errors: what parse says of a payload it refuses.
var (
	errEmpty      = errors.New("portal: empty message")
	errKind       = errors.New("portal: unknown message kind")
	errLength     = errors.New("portal: wrong length for its kind")
	errVersion    = errors.New("portal: unsupported session protocol version")
	errWindow     = errors.New("portal: window out of range")
	errChunk      = errors.New("portal: chunk out of range")
	errCreditZero = errors.New("portal: zero credit")
	errCodec      = errors.New("portal: unknown compression codec")
)

// frame is one decoded portal message. Its slices alias the payload it
// was parsed from: valid as long as that message is.
type frame struct {
	kind   byte
	window uint32     // OPEN, OK
	chunk  uint32     // OPEN, OK
	n      uint32     // DATA: its seq; EOF: the count of DATA before it
	total  uint64     // CREDIT
	codec  wire.Codec // OPEN, OK: the session's compression; Plain when the byte is absent
	data   []byte     // DATA: the bytes; DATAZ: the compressed bytes; ERR, RESET: the text
}

// parse decodes p, a portal message's payload. It does not allocate and
// refuses anything that is not exactly one well-formed message.
func parse(p []byte) (frame, error) {
	if len(p) == 0 {
		return frame{}, errEmpty
	}
	f := frame{kind: p[0]}
	body := p[1:]
	switch f.kind {
	case kindOpen:
		if len(p) != openLen && len(p) != openLen+1 {
			return frame{}, errLength
		}
		if body[0] != version {
			return frame{}, errVersion
		}
		f.window = binary.BigEndian.Uint32(body[1:])
		f.chunk = binary.BigEndian.Uint32(body[5:])
		if len(p) > openLen {
			if f.codec = wire.Codec(p[openLen]); f.codec == wire.Plain || f.codec > wire.Zstd {
				return frame{}, errCodec // absent means plain: a byte says which codec
			}
		}
	case kindOK:
		if len(p) != okLen && len(p) != okLen+1 {
			return frame{}, errLength
		}
		f.window = binary.BigEndian.Uint32(body)
		f.chunk = binary.BigEndian.Uint32(body[4:])
		if len(p) > okLen {
			if f.codec = wire.Codec(p[okLen]); f.codec == wire.Plain || f.codec > wire.Zstd {
				return frame{}, errCodec
			}
		}
	case kindErr, kindReset:
		if len(body) > maxText {
			return frame{}, errLength
		}
		f.data = body
		return f, nil
	case kindData, kindDataZ:
		if len(p) <= dataHdr {
			return frame{}, errLength
		}
		f.n = binary.BigEndian.Uint32(body)
		f.data = p[dataHdr:]
		return f, nil
	case kindCredit:
		if len(p) != creditLen {
			return frame{}, errLength
		}
		f.total = binary.BigEndian.Uint64(body)
		if f.total == 0 {
			return frame{}, errCreditZero
		}
		return f, nil
	case kindProbe:
		if len(body) != 0 {
			return frame{}, errLength
		}
		return f, nil
	case kindEOF:
		if len(p) != eofLen {
			return frame{}, errLength
		}
		f.n = binary.BigEndian.Uint32(body)
		return f, nil
	case kindClose:
		if len(body) != 0 {
			return frame{}, errLength
		}
		return f, nil
	default:
		return frame{}, errKind
	}
	if f.window < minWindow || f.window > maxWindow {
		return frame{}, errWindow
	}
	if f.chunk < minChunk || f.chunk > maxChunk {
		return frame{}, errChunk
	}
	return f, nil
}

// appendOpen appends an OPEN announcing the inlet's receive window, the
// largest chunk it takes, and the codec it asks the session to compress
// with (no byte for Plain).
func appendOpen(b []byte, window, chunk int, codec wire.Codec) []byte {
	b = append(b, kindOpen, version)
	b = binary.BigEndian.AppendUint32(b, uint32(window))
	return appendCodec(binary.BigEndian.AppendUint32(b, uint32(chunk)), codec)
}

// appendOK appends an OK announcing the outlet's receive window and
// chunk, and the codec the session compresses with (no byte for Plain).
func appendOK(b []byte, window, chunk int, codec wire.Codec) []byte {
	b = append(b, kindOK)
	b = binary.BigEndian.AppendUint32(b, uint32(window))
	return appendCodec(binary.BigEndian.AppendUint32(b, uint32(chunk)), codec)
}

func appendCodec(b []byte, c wire.Codec) []byte {
	if c == wire.Plain {
		return b
	}
	return append(b, byte(c))
}

// appendCredit appends a CREDIT saying total bytes of credit have been
// returned since the session began. Totals, not increments: a CREDIT
// lost on the way is made good by the next.
func appendCredit(b []byte, total int64) []byte {
	b = append(b, kindCredit)
	return binary.BigEndian.AppendUint64(b, uint64(total))
}

// appendText appends a message of kind (ERR, RESET) with text cut to
// maxText bytes.
func appendText(b []byte, kind byte, text string) []byte {
	if len(text) > maxText {
		text = text[:maxText]
	}
	b = append(b, kind)
	return append(b, text...)
}

// appendEOF appends an EOF after count DATA messages.
func appendEOF(b []byte, count uint32) []byte {
	return binary.BigEndian.AppendUint32(append(b, kindEOF), count)
}

// cost is the credit a DATA message of n bytes costs.
func cost(n int) int64 { return int64(n) + msgCost }
