package multiaddr

import (
	"errors"
	"strconv"
)

// Sentinel errors. Parse, Route and FromRoute return an *Error wrapping one
// of these, so callers can test with errors.Is.
var (
	ErrEmpty        = errors.New("multiaddr: empty address")
	ErrSyntax       = errors.New("multiaddr: malformed address text")              // no leading "/", an empty segment, a missing value
	ErrTooLong      = errors.New("multiaddr: address text longer than 4096 bytes") // MaxLen
	ErrTooManyAddrs = errors.New("multiaddr: more than 255 addresses")             // wire.MaxRouteLen
	ErrUnknownProto = errors.New("multiaddr: unknown protocol")
	ErrBadValue     = errors.New("multiaddr: bad value")             // not an IP address, a port, a name ...
	ErrOrder        = errors.New("multiaddr: protocol out of place") // /tcp without a host before it, a host without /tcp after it
	ErrNoResolver   = errors.New("multiaddr: /node without a resolver")
	ErrResolve      = errors.New("multiaddr: node not resolved")
	ErrNoForm       = errors.New("multiaddr: address has no multiaddr form")
)

// Error reports a multiaddr that cannot be parsed or turned into a route, or
// a route address that has no multiaddr form. Its text is one line:
//
//	bad address "/ip4/1.2.3/tcp/4": "1.2.3" is not an IPv4 address
type Error struct {
	Input   string // the multiaddr text, or the route address's text; cut at 256 bytes
	Segment string // the offending segment as written, e.g. "/ip4/1.2.3"; "" if none
	Reason  string // what is wrong, naming the bad value
	Err     error  // one of the sentinels above
	Cause   error  // with ErrResolve, the resolver's error; otherwise nil
}

func (e *Error) Error() string {
	return "bad address " + strconv.Quote(e.Input) + ": " + e.Reason
}

// Unwrap returns Err and, if set, Cause, so errors.Is sees both.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

func newErr(in, seg string, err error, reason string) *Error {
	return &Error{Input: cut(in, 256), Segment: seg, Reason: reason, Err: err}
}

// quote quotes a value for a Reason, cut at 64 bytes.
func quote(v string) string { return strconv.Quote(cut(v, 64)) }

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
