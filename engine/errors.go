package engine

import (
	"errors"
	"strconv"

	"github.com/hopwire/hopwire/wire"
)

var (
	ErrClosed        = errors.New("engine: node closed")
	ErrMailboxFull   = errors.New("engine: mailbox full")
	ErrTimeout       = errors.New("engine: receive timed out")
	ErrAddressInUse  = errors.New("engine: address already in use")
	ErrNotApp        = errors.New("engine: only an app context can receive; workers get messages through HandleMessage")
	ErrNoTransport   = errors.New("engine: no transport for address type")
	ErrNoAddress     = errors.New("engine: a worker needs at least one address")
	ErrUnknownWorker = errors.New("engine: no worker at that address")
	ErrBadLoop       = errors.New("engine: loop index out of range")
	ErrDenied        = errors.New("engine: access denied")
	ErrNotLocal      = errors.New("engine: a worker's address must be local (type 0)")
	ErrHopsExhausted = errors.New("engine: message arrived with no hop budget left")
)

// AddressError names the address an operation failed on.
type AddressError struct {
	Addr string
	Err  error
}

func (e *AddressError) Error() string { return e.Err.Error() + ": " + strconv.Quote(e.Addr) }
func (e *AddressError) Unwrap() error { return e.Err }

func unknownAddr(t wire.Type, v []byte) error {
	if t == wire.Local {
		return &AddressError{Addr: string(v), Err: ErrUnknownWorker}
	}
	return &AddressError{Addr: strconv.Itoa(int(t)) + "#" + string(v), Err: ErrNoTransport}
}
