package relay

import (
	"errors"
	"strconv"

	"github.com/hopwire/hopwire/engine"
)

// Errors, for errors.Is. Those about a name come in a *NameError, a
// relay node's refusal in a *RefusedError, a payload of another protocol
// version in a *VersionError.
var (
	ErrBadRequest  = errors.New("relay: malformed relay request")
	ErrBadName     = errors.New("relay: a relay name is 1 to 64 of A-Z a-z 0-9 _ -")
	ErrTaken       = errors.New("relay: relay name is taken")
	ErrLimit       = errors.New("relay: relay limit reached")
	ErrNotFound    = errors.New("relay: no such relay")
	ErrFailed      = errors.New("relay: the relay node could not start the forwarder")
	ErrNoAnswer    = errors.New("relay: no answer from the relay node")
	ErrLinkDown    = errors.New("relay: the connection to the relay node closed")
	ErrPingTimeout = errors.New("relay: no ping came back through the relay in time")
	ErrClosed      = engine.NewError("relay: closed", engine.ErrClosed)
)

// NameError is a relay name that is not [A-Za-z0-9_-]{1,64}.
type NameError struct{ Name string }

func (e *NameError) Error() string {
	n := e.Name
	if len(n) > 80 {
		n = n[:80] + "..."
	}
	return "relay: bad relay name " + strconv.Quote(n) + ": a name is 1 to 64 of A-Z a-z 0-9 _ -"
}

func (e *NameError) Unwrap() error { return ErrBadName }

// VersionError is a relay payload of a protocol version this package
// does not speak.
type VersionError struct{ Version uint8 }

func (e *VersionError) Error() string {
	return "relay: relay protocol version " + strconv.Itoa(int(e.Version)) + " (this node speaks " + strconv.Itoa(protoVersion) + ")"
}

func (e *VersionError) Unwrap() error { return ErrBadRequest }

// RefusedError is a relay node's refusal of a registration: Text is its
// reason, as the relay node wrote it.
type RefusedError struct {
	Name   string
	Text   string
	status uint8
}

func (e *RefusedError) Error() string {
	return "relay: relay node refused relay " + strconv.Quote(e.Name) + ": " + e.Text
}

// Unwrap returns the sentinel for the refusal: ErrTaken, ErrLimit, ...
func (e *RefusedError) Unwrap() error { return statusErr(e.status) }

func statusErr(s uint8) error {
	switch s {
	case statusTaken:
		return ErrTaken
	case statusBadName:
		return ErrBadName
	case statusLimit:
		return ErrLimit
	case statusUnknown:
		return ErrNotFound
	case statusFailed:
		return ErrFailed
	}
	return ErrBadRequest
}
