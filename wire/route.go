package wire

import (
	"errors"
	"strings"
)

// Route is an ordered list of addresses, the next one first.
// A valid route has at most MaxRouteLen addresses, all valid.
type Route []Address

// RouteSep separates addresses in a route's text form.
const RouteSep = " => "

// ParseRoute parses addresses separated by "=>" (spaces around it are
// optional), e.g. "hop1 => 1#127.0.0.1:4000 => echoer".
func ParseRoute(s string) (Route, error) {
	if strings.TrimSpace(s) == "" {
		return nil, addrErr(s, ErrEmptyRoute)
	}
	parts := strings.Split(s, "=>")
	if len(parts) > MaxRouteLen {
		return nil, addrErr(s, ErrRouteTooLong)
	}
	r := make(Route, 0, len(parts))
	for i, p := range parts {
		a, err := ParseAddress(strings.TrimSpace(p))
		if err != nil {
			if ae, ok := err.(*AddressError); ok && errors.Is(err, ErrEmptyAddress) {
				// Say where: "a => => b" has nothing at position 2.
				e := addrErr(s, ErrEmptyAddress).(*AddressError)
				e.Position = i + 1
				return nil, e
			} else if ok {
				ae.Position = i + 1
			}
			return nil, err
		}
		r = append(r, a)
	}
	return r, nil
}

// MustParseRoute is ParseRoute that panics on error. For tests.
func MustParseRoute(s string) Route {
	r, err := ParseRoute(s)
	if err != nil {
		panic(err)
	}
	return r
}

// Validate reports why r cannot be encoded, or nil.
func (r Route) Validate() error {
	_, err := r.size()
	return err
}

// size checks r and returns its wire size (without a count byte), in one
// pass: Build calls it on every message.
func (r Route) size() (int, error) {
	if len(r) > MaxRouteLen {
		return 0, addrErr(r.String(), ErrRouteTooLong)
	}
	n := 0
	for _, a := range r {
		if a.val == "" {
			return 0, addrErr(r.String(), ErrEmptyAddress)
		}
		if len(a.val) > MaxAddressLen {
			return 0, addrErr(a.val, ErrAddressTooLong)
		}
		n += 2 + len(a.val)
	}
	return n, nil
}

// String returns the text form, addresses joined by RouteSep.
func (r Route) String() string {
	var b []byte
	for i, a := range r {
		if i > 0 {
			b = append(b, RouteSep...)
		}
		b = a.AppendText(b)
	}
	return string(b)
}

// Equal reports whether r and o hold the same addresses in the same order.
func (r Route) Equal(o Route) bool {
	if len(r) != len(o) {
		return false
	}
	for i := range r {
		if r[i] != o[i] {
			return false
		}
	}
	return true
}

// encodedLen is the wire size of r's addresses (without a count byte).
func (r Route) encodedLen() int {
	n := 0
	for _, a := range r {
		n += a.encodedLen()
	}
	return n
}
