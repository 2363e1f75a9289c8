package relay

import (
	"encoding/binary"
)

// The relay protocol, version 1: the payloads a registrant and a
// forwarding service exchange. Every one opens with the same six bytes,
//
//	magic [4]byte "hwrl" | version u8 (1) | op u8
//
// and then, by op:
//
//	register (1), unregister (2)      registrant -> service
//	    id u64 | name u8 len (1..64) + bytes | secret u8 len (0 or 16) + bytes
//	answer (0x80 | the request's op)  service -> registrant
//	    id u64 | status u8 | forward u8 len (0..255) + bytes | secret u8 len (0 or 16) + bytes | text u8 len (0..255) + bytes
//	ping (3)                          registrant -> its own relay worker, through forward_to_NAME
//	    id u64
//
// Integers are big-endian. id is the sender's nonce, echoed in the answer
// so that a registrant takes no answer for one it did not ask for (what
// arrives at its relay worker may come from anyone behind the relay).
// forward is the forwarding address ("forward_to_NAME"), secret the
// name's ownership secret, text a refusal's reason; status is one of the
// status codes below. A payload is exactly as long as its fields: trailing
// bytes, a length past the end, a name outside [A-Za-z0-9_-]{1,64}, a
// secret of another length, an unknown version or op are all refused.
// A request is at most maxRequest bytes.

// protoMagic opens every relay payload.
const protoMagic = "hwrl"

// protoVersion is the version this package speaks.
const protoVersion = 1

// Ops.
const (
	opRegister   uint8 = 1
	opUnregister uint8 = 2
	opPing       uint8 = 3
	opAnswer     uint8 = 0x80 // or'ed with the request's op
)

// Status codes in an answer.
const (
	statusOK       uint8 = 0
	statusTaken    uint8 = 1 // the name is live and the secret did not match
	statusBadName  uint8 = 2
	statusLimit    uint8 = 3 // the service's or the link's relay limit
	statusBad      uint8 = 4 // malformed request, unknown version
	statusUnknown  uint8 = 5 // unregister of a name not registered
	statusFailed   uint8 = 6 // the service could not start the forwarder
	maxKnownStatus       = statusFailed
)

// Sizes and offsets.
const (
	hdrLen     = len(protoMagic) + 2 // magic, version, op
	offVersion = len(protoMagic)
	offOp      = offVersion + 1
	idLen      = 8
	secretLen  = 16 // 128 bits
	maxName    = 64
	maxText    = 255
	// maxRequest bounds a request payload: the largest valid one is
	// hdrLen+idLen+1+maxName+1+secretLen = 96 bytes.
	maxRequest = 128
	pingLen    = hdrLen + idLen
)

// request is a register or unregister request.
type request struct {
	op     uint8
	id     uint64
	name   string
	secret []byte // empty or secretLen bytes
}

// Len returns the encoded size of r.
func (r *request) Len() int { return hdrLen + idLen + 1 + len(r.name) + 1 + len(r.secret) }

// Append appends r's encoding to b.
func (r *request) Append(b []byte) ([]byte, error) {
	if r.op != opRegister && r.op != opUnregister {
		return b, ErrBadRequest
	}
	if err := checkName(r.name); err != nil {
		return b, err
	}
	if len(r.secret) != 0 && len(r.secret) != secretLen {
		return b, ErrBadRequest
	}
	b = appendHeader(b, r.op)
	b = binary.BigEndian.AppendUint64(b, r.id)
	b = append(b, byte(len(r.name)))
	b = append(b, r.name...)
	b = append(b, byte(len(r.secret)))
	return append(b, r.secret...), nil
}

// parseRequest reads a request. Its secret aliases b.
func parseRequest(b []byte) (request, error) {
	var r request
	if len(b) > maxRequest {
		return r, ErrBadRequest
	}
	op, p, err := parseHeader(b)
	if err != nil {
		return r, err
	}
	if op != opRegister && op != opUnregister {
		return r, ErrBadRequest
	}
	r.op = op
	if len(p) < idLen {
		return r, ErrBadRequest
	}
	r.id = binary.BigEndian.Uint64(p)
	p = p[idLen:]
	name, p, ok := field(p)
	if !ok {
		return r, ErrBadRequest
	}
	if err := checkName(string(name)); err != nil {
		return r, err
	}
	secret, p, ok := field(p)
	if !ok || len(p) != 0 || len(secret) != 0 && len(secret) != secretLen {
		return r, ErrBadRequest
	}
	r.name = string(name)
	if len(secret) != 0 {
		r.secret = secret
	}
	return r, nil
}

// answer is the service's answer to a request.
type answer struct {
	op      uint8 // the request's op
	id      uint64
	status  uint8
	forward string
	secret  []byte
	text    string
}

// Len returns the encoded size of a.
func (a *answer) Len() int {
	return hdrLen + idLen + 1 + 1 + len(a.forward) + 1 + len(a.secret) + 1 + min(len(a.text), maxText)
}

// Append appends a's encoding to b; a text longer than maxText bytes is
// cut.
func (a *answer) Append(b []byte) ([]byte, error) {
	if len(a.forward) > 255 || len(a.secret) != 0 && len(a.secret) != secretLen || a.status > maxKnownStatus {
		return b, ErrBadRequest
	}
	text := a.text
	if len(text) > maxText {
		text = text[:maxText]
	}
	b = appendHeader(b, opAnswer|a.op)
	b = binary.BigEndian.AppendUint64(b, a.id)
	b = append(b, a.status, byte(len(a.forward)))
	b = append(b, a.forward...)
	b = append(b, byte(len(a.secret)))
	b = append(b, a.secret...)
	b = append(b, byte(len(text)))
	return append(b, text...), nil
}

// parseAnswer reads an answer. Its secret aliases b.
func parseAnswer(b []byte) (answer, error) {
	var a answer
	op, p, err := parseHeader(b)
	if err != nil {
		return a, err
	}
	if op&opAnswer == 0 || op&^opAnswer != opRegister && op&^opAnswer != opUnregister {
		return a, ErrBadRequest
	}
	a.op = op &^ opAnswer
	if len(p) < idLen+1 {
		return a, ErrBadRequest
	}
	a.id = binary.BigEndian.Uint64(p)
	a.status = p[idLen]
	if a.status > maxKnownStatus {
		return a, ErrBadRequest
	}
	p = p[idLen+1:]
	fwd, p, ok := field(p)
	if !ok {
		return a, ErrBadRequest
	}
	secret, p, ok := field(p)
	if !ok || len(secret) != 0 && len(secret) != secretLen {
		return a, ErrBadRequest
	}
	text, p, ok := field(p)
	if !ok || len(p) != 0 {
		return a, ErrBadRequest
	}
	a.forward, a.text = string(fwd), string(text)
	if len(secret) != 0 {
		a.secret = secret
	}
	return a, nil
}

// appendPing appends a ping's encoding to b.
func appendPing(b []byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64(appendHeader(b, opPing), id)
}

// parsePing reads a ping's id. It does not allocate.
func parsePing(b []byte) (uint64, bool) {
	op, p, err := parseHeader(b)
	if err != nil || op != opPing || len(p) != idLen {
		return 0, false
	}
	return binary.BigEndian.Uint64(p), true
}

func appendHeader(b []byte, op uint8) []byte {
	b = append(b, protoMagic...)
	return append(b, protoVersion, op)
}

// parseHeader checks magic and version and returns the op and the rest.
func parseHeader(b []byte) (uint8, []byte, error) {
	if len(b) < hdrLen || string(b[:len(protoMagic)]) != protoMagic {
		return 0, nil, ErrBadRequest
	}
	if b[offVersion] != protoVersion {
		return 0, nil, &VersionError{Version: b[offVersion]}
	}
	return b[offOp], b[hdrLen:], nil
}

// field reads a u8-length-prefixed field.
func field(p []byte) (v, rest []byte, ok bool) {
	if len(p) < 1 || len(p)-1 < int(p[0]) {
		return nil, nil, false
	}
	n := int(p[0])
	return p[1 : 1+n : 1+n], p[1+n:], true
}

// checkName reports whether name is a valid relay name:
// [A-Za-z0-9_-]{1,64}.
func checkName(name string) error {
	if len(name) == 0 || len(name) > maxName {
		return &NameError{Name: name}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return &NameError{Name: name}
		}
	}
	return nil
}
