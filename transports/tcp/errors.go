package tcp

import "errors"

var (
	ErrClosed       = errors.New("tcp: transport closed")
	ErrConnClosed   = errors.New("tcp: connection closed")
	ErrNoConnection = errors.New("tcp: no connection with that id")
	ErrQueueFull    = errors.New("tcp: connection's outbound queue is full")
	ErrBadAddress   = errors.New("tcp: address is neither host:port nor a connection id")
	ErrNotTCP       = errors.New("tcp: next address is not a TCP address")
	ErrHandshake    = errors.New("tcp: handshake failed")

	ErrFrameTimeout  = errors.New("tcp: frame not complete within Config.FrameTimeout")
	ErrPendingBudget = errors.New("tcp: pending-frame budget exceeded (Config.MaxPendingBytes)")

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
