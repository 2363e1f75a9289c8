package tcp

import (
	"errors"
	"net"
	"sync"

	"github.com/hopwire/hopwire/wire"
)

// Listener accepts connections for a Transport. Messages that arrive
// over them carry the listener's flow: they reach only the workers
// allowed for it (node.Allow(l.Flow(), ...)): not the node's connection
// workers, so a peer cannot route over another peer's connection.
//
// Accepting is Go's: a goroutine blocked in Accept on Go's poller hands
// each socket to the transport's (shared) gnet engine with EnrollContext,
// which runs it from then on like a dialed one.
type Listener struct {
	t    *Transport
	flow uint64
	addr string // bound host:port
	ln   net.Listener

	accepting chan struct{} // closed when the accept goroutine has returned
	once      sync.Once
}

// Listen binds addr ("host:port"; port 0 picks a free one) and accepts
// connections on it.
func (t *Transport) Listen(addr string) (*Listener, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, &wire.AddressError{Input: addr, Err: ErrBadAddress}
	}
	l := &Listener{t: t, flow: t.node.NewFlow(), accepting: make(chan struct{})}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return nil, ErrClosed
	}
	ln, err := net.Listen("tcp", addr) // SO_REUSEADDR, as Go always sets it
	if err != nil {
		return nil, err
	}
	l.ln, l.addr = ln, ln.Addr().String()
	t.listeners[l] = struct{}{}
	go l.acceptLoop()
	return l, nil
}

// acceptLoop accepts until the listening socket is closed. Each socket
// gets its conn first, then goes to gnet; EnrollContext returns once
// OnOpen has run on its loop.
func (l *Listener) acceptLoop() {
	defer close(l.accepting)
	t := l.t
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// EMFILE and the like: log and go on; Accept does not spin
			// on them for long (the peer's socket is in the backlog).
			t.log.Warn("tcp: accept", "listener", l.addr, "err", err)
			continue
		}
		c, err := t.accept(l)
		if err != nil {
			_ = nc.Close()
			continue
		}
		_, err = t.client.EnrollContext(nc, c) // dups the socket, closes nc
		if err == nil && !c.opened.Load() {
			err = errors.New("tcp: gnet did not open the connection")
		}
		if err != nil {
			t.log.Warn("tcp: handing an accepted socket to gnet failed", "listener", l.addr, "err", err)
			c.shutdown(closeLocal, &ConnError{Conn: c.addr.String(), Err: err})
		}
	}
}

// Addr returns the bound address, host:port.
func (l *Listener) Addr() string { return l.addr }

// Flow returns the flow id stamped on messages that arrive through the
// listener's connections, for node.Allow.
func (l *Listener) Flow() uint64 { return l.flow }

// Close stops accepting and closes the listener's connections. It waits
// until they are closed; calling it again does nothing.
func (l *Listener) Close() error {
	l.once.Do(func() {
		_ = l.ln.Close()
		<-l.accepting // no conn of l is created after this
		for _, c := range l.t.byID.load() {
			if c.lis == l {
				c.shutdown(closeLocal, ErrClosed)
				<-c.done
			}
		}
		l.t.forgetListener(l)
	})
	<-l.accepting
	return nil
}

func (t *Transport) forgetListener(l *Listener) {
	t.mu.Lock()
	delete(t.listeners, l)
	t.mu.Unlock()
}
