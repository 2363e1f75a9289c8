package wire

import (
	"strconv"
	"strings"
)

// Type is an address's transport type: which part of a node handles it.
type Type uint8

// Known transport types. Other values are valid on the wire and are routed
// to whatever transport a node registered for them.
const (
	Local Type = 0 // a worker on the node: "0#echoer"
	TCP   Type = 1 // a TCP peer, host:port: "1#127.0.0.1:4000"
	UDP   Type = 2 // a UDP peer, host:port: "2#127.0.0.1:4000"
	Unix  Type = 3 // a Unix-domain stream socket, its path: "3#/run/hopwire/node.sock"
)

// Limits of the encoding. They are structural (each length is one byte), so
// the decoder cannot meet a larger value; encoders refuse one up front.
const (
	MaxRouteLen   = 255 // addresses per route
	MaxAddressLen = 255 // bytes per address value
)

// Address is a transport type and a value: "0#echoer", "1#127.0.0.1:4000".
// It is a small comparable value; the zero Address is invalid.
type Address struct {
	typ Type
	val string
}

// NewAddress returns the address of type t with value v, or an
// *AddressError if v is empty or longer than MaxAddressLen.
func NewAddress(t Type, v string) (Address, error) {
	if v == "" {
		return Address{}, addrErr(v, ErrEmptyAddress)
	}
	if len(v) > MaxAddressLen {
		return Address{}, addrErr(v, ErrAddressTooLong)
	}
	return Address{typ: t, val: v}, nil
}

// LocalAddr returns the local address (type 0) of the worker named name,
// the address the route text "name" parses to: what StartWorker, Allow and
// NewContext take. It does not check name; an empty one, or one longer
// than MaxAddressLen, makes an address that Validate, routes and the
// engine refuse. It does not allocate.
func LocalAddr(name string) Address { return Address{typ: Local, val: name} }

// Validate reports why a cannot be encoded (an *AddressError), or nil.
func (a Address) Validate() error {
	switch {
	case a.val == "":
		return addrErr(a.val, ErrEmptyAddress)
	case len(a.val) > MaxAddressLen:
		return addrErr(a.val, ErrAddressTooLong)
	}
	return nil
}

// ParseAddress parses the text form "TYPE#VALUE" where TYPE is a decimal
// number 0..255. Text without a leading "digits#" is a local address name.
func ParseAddress(s string) (Address, error) {
	if i := strings.IndexByte(s, '#'); i > 0 && isDigits(s[:i]) {
		n, err := strconv.ParseUint(s[:i], 10, 8)
		if err != nil {
			return Address{}, addrErr(s, ErrBadAddressType)
		}
		return NewAddress(Type(n), s[i+1:])
	}
	return NewAddress(Local, s)
}

// MustParseAddress is ParseAddress that panics on error. For tests and
// package-level constants.
func MustParseAddress(s string) Address {
	a, err := ParseAddress(s)
	if err != nil {
		panic(err)
	}
	return a
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Type returns the address's transport type.
func (a Address) Type() Type { return a.typ }

// Value returns the address's value: a worker name, "host:port", ...
func (a Address) Value() string { return a.val }

// IsValid reports whether a is not the zero Address and can be encoded.
func (a Address) IsValid() bool { return a.val != "" && len(a.val) <= MaxAddressLen }

// IsLocal reports whether a names a worker on the node itself.
func (a Address) IsLocal() bool { return a.typ == Local && a.val != "" }

// String returns the text form "TYPE#VALUE".
func (a Address) String() string {
	return string(a.AppendText(make([]byte, 0, 4+len(a.val))))
}

// AppendText appends the text form of a to b. It does not allocate when b
// has room.
func (a Address) AppendText(b []byte) []byte {
	b = strconv.AppendUint(b, uint64(a.typ), 10)
	b = append(b, '#')
	return append(b, a.val...)
}

// encodedLen is the size of a on the wire: type, length, value.
func (a Address) encodedLen() int { return 2 + len(a.val) }

// put writes a's encoding at the start of b, which must be long enough.
func (a Address) put(b []byte) int {
	b[0] = byte(a.typ)
	b[1] = byte(len(a.val))
	return 2 + copy(b[2:], a.val)
}
