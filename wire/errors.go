package wire

import (
	"errors"
	"strconv"
)

// Sentinel errors. Decode errors wrap one of these in a *DecodeError, so
// callers can test with errors.Is and still report where the input went wrong.
var (
	ErrTruncated       = errors.New("wire: truncated")
	ErrEmptyAddress    = errors.New("wire: empty address value")
	ErrAddressTooLong  = errors.New("wire: address value longer than 255 bytes")
	ErrRouteTooLong    = errors.New("wire: route longer than 255 addresses")
	ErrFrameTooLarge   = errors.New("wire: frame too large")
	ErrEmptyRoute      = errors.New("wire: empty onward route")
	ErrBadVersion      = errors.New("wire: unsupported protocol version")
	ErrBadAddressType  = errors.New("wire: address type out of range")
	ErrMessageReleased = errors.New("wire: message already released")
	ErrUseAfterRelease = errors.New("wire: message used after Release")
	ErrNoRoom          = errors.New("wire: payload longer than the message's room")
	ErrBadFlags        = errors.New("wire: unknown flag bits")
	ErrBadHandshake    = errors.New("wire: not a hopwire handshake")
)

// errNotLent is the panic of a lender reclaiming a message it did not
// lend (or whose loan the borrower ended): a bug in the lender.
var errNotLent = errors.New("wire: reclaiming a message that is not lent")

// DecodeError says what was wrong with an encoded message and where.
type DecodeError struct {
	Offset int    // byte offset into the message (after any frame prefix)
	Field  string // what was being read, e.g. "onward[2].len"
	Err    error  // one of the sentinels above
}

func (e *DecodeError) Error() string {
	return e.Err.Error() + " at byte " + strconv.Itoa(e.Offset) + " (" + e.Field + ")"
}

func (e *DecodeError) Unwrap() error { return e.Err }

// AddressError reports an address or route that cannot be encoded or parsed.
type AddressError struct {
	Input    string // the offending text or value, truncated to 64 bytes
	Err      error
	Position int // in a route's text, which address (from 1); 0 if not a route's
}

func (e *AddressError) Error() string {
	if e.Position > 0 {
		return e.Err.Error() + " at position " + strconv.Itoa(e.Position) + " of route " + strconv.Quote(e.Input)
	}
	return e.Err.Error() + ": " + strconv.Quote(e.Input)
}

func (e *AddressError) Unwrap() error { return e.Err }

func addrErr(in string, err error) error {
	if len(in) > 64 {
		in = in[:64] + "..."
	}
	return &AddressError{Input: in, Err: err}
}
