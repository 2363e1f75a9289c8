package tcp

import (
	"errors"
	"net"
	"strconv"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// Errors of the TCP (and Unix) transport, for errors.Is: each closed one
// wraps engine.ErrClosed, ErrQueueFull engine.ErrBackpressure; those of
// one connection come wrapped in a *ConnError.
var (
	ErrClosed       = engine.NewError("tcp: transport closed", engine.ErrClosed)
	ErrConnClosed   = engine.NewError("tcp: connection closed", engine.ErrClosed)
	ErrNoConnection = errors.New("tcp: no connection with that id")
	ErrQueueFull    = engine.NewError("tcp: connection's outbound queue is full", engine.ErrBackpressure)
	ErrMissingPort  = engine.NewError("tcp: address has no port (want HOST:PORT; port 0 picks a free one)", ErrBadAddress)
	ErrBadAddress   = errors.New("tcp: address is neither host:port nor a connection id")
	ErrNotTCP       = errors.New("tcp: next address is not a TCP address")
	ErrHandshake    = errors.New("tcp: handshake failed")

	ErrFrameTimeout  = errors.New("tcp: frame not complete within Config.FrameTimeout")
	ErrPendingBudget = errors.New("tcp: pending-frame budget exceeded (Config.MaxPendingBytes)")

	ErrNotUnix     = errors.New("unix: next address is not a Unix socket address")
	ErrBadPath     = errors.New("unix: address is not a socket path (abstract @names are not served; a path of 32 hex digits names a connection: write ./<hex>)")
	ErrPathTooLong = errors.New("unix: socket path longer than " + strconv.Itoa(MaxUnixPath) + " bytes, the OS's limit (sun_path)")
	ErrNotSocket   = errors.New("unix: path exists and is not a socket")
	ErrSocketInUse = errors.New("unix: a listener answers on the socket already")

	errFlagsNotNegotiated = errors.New("tcp: message flags the connection did not negotiate")
)

// ConnError is an error on one connection: the connection's worker
// address, the peer's network address and what went wrong.
type ConnError struct {
	Conn string // the connection worker's address, "0#<32 hex>"
	Peer string // host:port of the other end, if known
	Err  error
}

func (e *ConnError) Error() string {
	s := e.Err.Error() + " (conn " + e.Conn
	if e.Peer != "" {
		s += ", peer " + e.Peer
	}
	return s + ")"
}

func (e *ConnError) Unwrap() error { return e.Err }

// ConfigError reports a Config field that cannot be used.
type ConfigError struct{ Field, Reason string }

func (e *ConfigError) Error() string { return "tcp: Config." + e.Field + " " + e.Reason }

// hostPortError says what is wrong with a HOST:PORT the caller gave.
func hostPortError(addr string, err error) error {
	if ae, ok := err.(*net.AddrError); ok && ae.Err == "missing port in address" {
		return &wire.AddressError{Input: addr, Err: ErrMissingPort}
	}
	return &wire.AddressError{Input: addr, Err: ErrBadAddress}
}
