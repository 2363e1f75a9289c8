package unix

import (
	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/tcp"
)

// Transport carries a node's messages over Unix-domain stream sockets:
// tcp's Transport, made by tcp.NewUnix. Its Listen, Connect and routes
// take socket paths.
type Transport = tcp.Transport

// Config configures a Transport; its zero value means defaults, as for
// TCP (tcp.Config).
type Config = tcp.Config

// Stats are a Transport's counters (tcp.Stats).
type Stats = tcp.Stats

// MaxUnixPath is the longest socket path the OS takes (tcp.MaxUnixPath).
const MaxUnixPath = tcp.MaxUnixPath

// The errors about paths and addresses; those of connections are tcp's
// (tcp.ErrQueueFull, tcp.ErrClosed, ...).
var (
	ErrNotUnix     = tcp.ErrNotUnix
	ErrBadPath     = tcp.ErrBadPath
	ErrPathTooLong = tcp.ErrPathTooLong
	ErrNotSocket   = tcp.ErrNotSocket
	ErrSocketInUse = tcp.ErrSocketInUse
)

// New starts a Unix-socket transport for node and registers it as the
// node's transport for wire.Unix addresses, beside a TCP one if the node
// has it. The node closes it when it closes. See tcp.NewUnix.
func New(node *engine.Node, cfg Config) (*Transport, error) {
	return tcp.NewUnix(node, cfg)
}
