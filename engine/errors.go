package engine

import (
	"errors"
	"net"
	"os"
	"strconv"

	"github.com/hopwire/hopwire/wire"
)

// One vocabulary for every layer: whatever closed (a node, a context, a
// transport, a connection, a socket) wraps ErrClosed, and whatever was
// refused because a receiver is full (a mailbox, a connection's queue, a
// socket's buffer) wraps ErrBackpressure, so a caller tests
// errors.Is(err, engine.ErrClosed) or engine.ErrBackpressure without
// knowing which layer said it. ErrClosed is the standard library's
// net.ErrClosed too, and a timeout (ErrTimeout, ErrCloseTimeout) is
// os.ErrDeadlineExceeded with Timeout() true, as a net.Conn's are.
var (
	ErrClosed       = NewError("engine: closed", net.ErrClosed)
	ErrBackpressure = errors.New("engine: backpressure: the receiver is full")
)

// Errors of the engine's own, for errors.Is; those that name an address
// come wrapped in an *AddressError, access control's in an *AccessError.
var (
	ErrMailboxFull    = NewError("engine: mailbox full", ErrBackpressure)
	ErrTimeout        = timeout("engine: receive timed out")
	ErrAddressInUse   = errors.New("engine: address already in use")
	ErrNoTransport    = errors.New("engine: no transport for address type")
	ErrNoAddress      = errors.New("engine: a worker needs at least one address")
	ErrUnknownWorker  = errors.New("engine: no worker at that address")
	ErrBadLoop        = errors.New("engine: loop index out of range")
	ErrDenied         = errors.New("engine: access denied")
	ErrNotLocal       = errors.New("engine: a worker's address must be local (type 0)")
	ErrHopsExhausted  = errors.New("engine: message arrived with no hop budget left")
	ErrContextClosed  = NewError("engine: app context closed", ErrClosed)
	ErrTransportInUse = errors.New("engine: a transport for that address type is already registered on this node")
	ErrCloseTimeout   = timeout("engine: close timed out")
)

// NewError returns a sentinel error with text of its own that errors.Is
// also matches with base: for a layer's ErrQueueFull that is an
// ErrBackpressure, its ErrClosed that is the engine's.
func NewError(text string, base error) error { return &layerError{text, base} }

type layerError struct {
	text string
	base error
}

func (e *layerError) Error() string { return e.text }
func (e *layerError) Unwrap() error { return e.base }

// timeout returns a sentinel timeout: a net.Error whose Timeout reports
// true and that errors.Is matches with os.ErrDeadlineExceeded.
func timeout(text string) error { return &timeoutError{text} }

type timeoutError struct{ text string }

func (e *timeoutError) Error() string   { return e.text }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true } // net.Error's; as os.ErrDeadlineExceeded says
func (e *timeoutError) Unwrap() error   { return os.ErrDeadlineExceeded }

// AddressError names the address an operation failed on: wire's, one
// type for a bad address text and for an address a node has no worker or
// transport for.
type AddressError = wire.AddressError

func unknownAddr(t wire.Type, v []byte) error {
	if t == wire.Local {
		return &AddressError{Input: string(v), Err: ErrUnknownWorker}
	}
	return &AddressError{Input: strconv.Itoa(int(t)) + "#" + string(v), Err: ErrNoTransport}
}

// TransportError says a node has no transport for an address type
// (ErrNoTransport), or already has one (ErrTransportInUse).
type TransportError struct {
	Type wire.Type
	Err  error
}

func (e *TransportError) Error() string {
	name := "type " + strconv.Itoa(int(e.Type))
	switch e.Type {
	case wire.TCP:
		name = "TCP (type 1)"
	case wire.UDP:
		name = "UDP (type 2)"
	case wire.Unix:
		name = "Unix (type 3)"
	}
	if e.Err == ErrNoTransport {
		return "engine: no transport for " + name + " addresses on this node"
	}
	return "engine: a transport for " + name + " addresses is already registered on this node"
}

func (e *TransportError) Unwrap() error { return e.Err }
