package udp

import (
	"errors"
	"strconv"

	"github.com/hopwire/hopwire/engine"
)

// Errors of the UDP transport, for errors.Is: each closed one wraps
// engine.ErrClosed, ErrBusy engine.ErrBackpressure.
var (
	ErrClosed       = engine.NewError("udp: transport closed", engine.ErrClosed)
	ErrSocketClosed = engine.NewError("udp: socket closed", engine.ErrClosed)
	ErrTooLarge     = errors.New("udp: message too large for a datagram")
	ErrBusy         = engine.NewError("udp: socket send buffer full, datagram dropped", engine.ErrBackpressure)
	ErrBadAddress   = errors.New("udp: address is not a literal ip:port")
	ErrFamily       = errors.New("udp: no socket of the address's IP family to send from")
	ErrNotUDP       = errors.New("udp: next address is not a UDP address")
)

// SizeError is Send's refusal of a message that does not fit in one
// datagram. errors.Is(err, ErrTooLarge) holds.
type SizeError struct {
	Size  int    // encoded size of the message, after the UDP address was stepped off
	Limit int    // Config.MaxDatagram
	Peer  string // the destination, ip:port
}

func (e *SizeError) Error() string {
	return ErrTooLarge.Error() + ": " + strconv.Itoa(e.Size) + " bytes, limit " + strconv.Itoa(e.Limit) + " (peer " + e.Peer + ")"
}

func (e *SizeError) Unwrap() error { return ErrTooLarge }

// PeerError is an error sending to one peer: its address and what went
// wrong (an errno from sendto, say).
type PeerError struct {
	Peer string // ip:port
	Err  error
}

func (e *PeerError) Error() string { return e.Err.Error() + " (peer " + e.Peer + ")" }

func (e *PeerError) Unwrap() error { return e.Err }

// ConfigError reports a Config field that cannot be used.
type ConfigError struct{ Field, Reason string }

func (e *ConfigError) Error() string { return "udp: Config." + e.Field + " " + e.Reason }
