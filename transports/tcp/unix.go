package tcp

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// Unix-domain stream sockets. A Transport made by NewUnix is the TCP
// transport with another network: the hello, the framing, the links and
// access control, the write path, the limits and the gnet engine (shared
// with TCP transports of the same EventLoops and ReadBufferCap) are the
// same. What differs is here: a socket is named by a path, bound as a
// file and dialed by path. TCP_NODELAY is not set on Unix sockets (gnet
// sets it on *net.TCPConn only; conn.onOpen does not ask for it).

// MaxUnixPath is the longest socket path the OS takes: sun_path less
// its terminating NUL, 107 bytes on Linux, 103 on macOS and the BSDs.
// It is below wire.MaxAddressLen, so it is the limit of a "3#path"
// address too.
const MaxUnixPath = len(syscall.RawSockaddrUnix{}.Path) - 1

// unixSocketMode is the mode of a listener's socket file: its owner
// alone may connect.
const unixSocketMode = 0o600

// staleProbeTimeout bounds the dial that tells a live socket file from a
// stale one before Listen replaces it.
const staleProbeTimeout = time.Second

// NewUnix starts a transport over Unix-domain stream sockets for node
// and registers it as the node's transport for wire.Unix addresses. A
// node can have it beside a TCP transport (one per address type). The
// node closes it when it closes. Its addresses are socket paths:
//
//   - Listen(path) binds a socket file at path and sets its mode to 0600
//     with os.Chmod right after the bind. Between the two the file has
//     the mode the process's umask gives it (0755 under umask 022, which
//     lets nobody else connect: connecting needs write permission); the
//     umask is process-wide and not safe to change in a running
//     program, so put the socket in a directory only its owner can
//     enter (0700) to leave no window at all. Listen refuses a path that
//     exists and is not a socket (ErrNotSocket) and a socket something
//     answers on (ErrSocketInUse); a socket file nothing listens on, left
//     by a process that died, is removed and bound again.
//     Listener.Close, and Transport.Close, remove the file.
//   - A route through "3#/path/to/sock" reaches the node listening
//     there, over a connection dialed on the first send and reused
//     after; Connect(path) dials one explicitly.
//
// A path is at most MaxUnixPath bytes (ErrPathTooLong). A relative path
// is resolved against the process's working directory; one of 32 hex
// digits would read as a connection id and is written "./<hex>".
// Abstract sockets ("@name") are not served. Connections made by NewUnix
// are accepted and dialed like TCP ones, and counted in the same Stats.
func NewUnix(node *engine.Node, cfg Config) (*Transport, error) {
	return newTransport(node, cfg, "unix", wire.Unix)
}

// checkAddr checks an address Listen, Connect or a route gives: host:port,
// or a Unix transport's socket path.
func (t *Transport) checkAddr(addr string) error {
	if t.network == "unix" {
		return checkUnixPath(addr)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return hostPortError(addr, err)
	}
	return nil
}

func checkUnixPath(path string) error {
	switch {
	case path == "" || path[0] == '@' || isConnID([]byte(path)):
		return &wire.AddressError{Input: clip(path), Err: ErrBadPath}
	case len(path) > MaxUnixPath:
		return &wire.AddressError{Input: clip(path), Err: ErrPathTooLong}
	}
	return nil
}

// clip shortens what an error quotes, as wire's address errors do.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// errWrongType is Send's error for a message whose next address is of
// another type than the transport's.
func (t *Transport) errWrongType() error {
	if t.typ == wire.Unix {
		return ErrNotUnix
	}
	return ErrNotTCP
}

// bind makes a listening socket at addr.
func (t *Transport) bind(addr string) (net.Listener, error) {
	if t.network == "unix" {
		return bindUnix(addr)
	}
	return net.Listen("tcp", addr) // SO_REUSEADDR, as Go always sets it
}

// bindUnix binds a socket file at path, mode unixSocketMode, replacing a
// stale socket file. Go's UnixListener removes the file when it closes.
func bindUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, &os.PathError{Op: "listen", Path: path, Err: ErrNotSocket}
		}
		nc, err := net.DialTimeout("unix", path, staleProbeTimeout)
		if err == nil {
			_ = nc.Close()
			return nil, &os.PathError{Op: "listen", Path: path, Err: ErrSocketInUse}
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			// Not refused: a full backlog (in use), no permission (not
			// ours to replace), ...
			return nil, &os.PathError{Op: "listen", Path: path, Err: err}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, unixSocketMode); err != nil {
		_ = ln.Close()
		return nil, err
	}
	return ln, nil
}

// peerAddr is the name of a connection's other end for logs and errors:
// its host:port over TCP. A Unix peer that dials is usually unnamed
// (Go says "@" or ""): then the listener's path says where it came in.
func (t *Transport) peerAddr(a net.Addr, lis *listener) string {
	if a == nil {
		return ""
	}
	s := a.String()
	if t.network == "unix" && (s == "" || s == "@") && lis != nil {
		return "unnamed peer on " + lis.addr
	}
	return s
}
