package relay

import "encoding/binary"

// Hooks for the external tests: a registrant driven by hand.

// AppendRegister appends a register request's encoding to b, unchecked
// (a bad name goes out as it is, for the service to refuse).
func AppendRegister(b []byte, id uint64, name string, secret []byte) []byte {
	b = appendHeader(b, opRegister)
	b = binary.BigEndian.AppendUint64(b, id)
	b = append(append(b, byte(len(name))), name...)
	return append(append(b, byte(len(secret))), secret...)
}

// ParseAnswer reads an answer: its id, whether it is ok, the forwarding
// address, the secret and the text.
func ParseAnswer(b []byte) (id uint64, ok bool, forward string, secret []byte, text string, err error) {
	a, err := parseAnswer(b)
	return a.id, a.status == statusOK, a.forward, append([]byte(nil), a.secret...), a.text, err
}
