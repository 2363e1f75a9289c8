package tcp

import (
	"errors"

	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// listener accepts connections for a Transport: its engine.Listener.
// Messages that arrive over them carry the listener's flow: they reach
// only the workers allowed for it (node.Allow(l.Flow(), ...)): not the
// node's connection workers, so a peer cannot route over another peer's
// connection.
//
// Accepting is Go's: a goroutine blocked in Accept on Go's poller hands
// each socket to the transport's (shared) gnet engine with EnrollContext,
// which runs it from then on like a dialed one. At most Config.MaxConns
// of a listener's connections are open at once; one accepted over it is
// closed at once.
type listener struct {
	t     *Transport
	flow  uint64
	addr  string       // bound host:port, or a socket's path
	route wire.Address // 1#addr (3#path): what Addr returns
	ln    net.Listener

	conns     atomic.Int64  // its connections open now, for Config.MaxConns
	closing   chan struct{} // closed when Close begins: ends an accept backoff
	accepting chan struct{} // closed when the accept goroutine has returned
	done      chan struct{} // closed when Close has finished
	once      sync.Once
}

// An accept that fails (EMFILE, ENFILE, ENOBUFS: the process or the
// system is out of descriptors or memory) leaves the peer's connection in
// the backlog, so the next Accept fails at once too. The accept loop
// waits before it tries again: minAcceptBackoff after the first failure,
// twice as long after each that follows, at most maxAcceptBackoff; a
// success starts over.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = 100 * time.Millisecond
)

// nextBackoff returns the wait after a failed accept that follows a wait
// of d (0: the last accept succeeded).
func nextBackoff(d time.Duration) time.Duration {
	return min(max(2*d, minAcceptBackoff), maxAcceptBackoff)
}

// Listen binds addr ("host:port"; port 0 picks a free one) and accepts
// connections on it. For a Unix transport addr is the socket's path:
// see NewUnix for how the file is made and removed.
func (t *Transport) Listen(addr string) (engine.Listener, error) {
	if err := t.checkAddr(addr); err != nil {
		return nil, err
	}
	l := &listener{t: t, flow: t.host.NewFlow(), closing: make(chan struct{}), accepting: make(chan struct{}), done: make(chan struct{})}
	if t.closed.Load() {
		return nil, ErrClosed
	}
	ln, err := t.bind(addr) // outside t.mu: a Unix bind may probe an old socket first
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		_ = ln.Close()
		return nil, ErrClosed
	}
	l.ln, l.addr = ln, ln.Addr().String()
	if l.route, err = wire.NewAddress(t.typ, l.addr); err != nil {
		_ = ln.Close()
		return nil, err
	}
	t.listeners[l] = struct{}{}
	go l.acceptLoop()
	t.host.Listening(l)
	return l, nil
}

// acceptLoop accepts until the listening socket is closed. Each socket
// gets its conn first, then goes to gnet; EnrollContext returns once
// OnOpen has run on its loop. A socket over Config.MaxConns is closed at
// once.
func (l *listener) acceptLoop() {
	defer close(l.accepting)
	t := l.t
	var backoff time.Duration
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
			t.stats.acceptErrors.Add(1)
			backoff = nextBackoff(backoff)
			if n, ok := t.acceptLog.Allow(); ok {
				t.log.Warn("tcp: accept failed; backing off", "listener", l.addr, "err", err, "backoff", backoff, "suppressed", n)
			}
			if !l.pause(backoff) {
				return
			}
			continue
		}
		backoff = 0
		if l.conns.Load() >= int64(t.cfg.MaxConns) {
			t.stats.rejected.Add(1)
			_ = nc.Close()
			if n, ok := t.rejectLog.Allow(); ok {
				t.log.Warn("tcp: connection refused: the listener has Config.MaxConns open", "listener", l.addr,
					"peer", nc.RemoteAddr().String(), "max", t.cfg.MaxConns, "suppressed", n)
			}
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
			// Out of descriptors too, most likely (gnet dups the socket).
			t.stats.acceptErrors.Add(1)
			if n, ok := t.warns.Get("tcp: handing an accepted socket to gnet failed").Allow(); ok {
				t.log.Warn("tcp: handing an accepted socket to gnet failed", "listener", l.addr, "err", err, "suppressed", n)
			}
			c.shutdown(closeLocal, &ConnError{Conn: c.addr.String(), Err: err})
		}
	}
}

// pause waits d, or less if the listener closes meanwhile; it reports
// whether the listener is still open.
func (l *listener) pause(d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-l.closing:
		return false
	}
}

// Addr returns the bound address: 1#host:port, or 3#path for a Unix socket.
func (l *listener) Addr() wire.Address { return l.route }

// Done is closed when Close has finished.
func (l *listener) Done() <-chan struct{} { return l.done }

// Flow returns the flow id stamped on messages that arrive through the
// listener's connections, for node.Allow.
func (l *listener) Flow() uint64 { return l.flow }

// Close stops accepting and closes the listener's connections. It waits
// until they are closed; calling it again does nothing.
func (l *listener) Close() error {
	l.once.Do(func() {
		close(l.closing)
		_ = l.ln.Close()
		<-l.accepting // no conn of l is created after this
		for _, c := range l.t.byID.load() {
			if c.lis == l {
				c.shutdown(closeLocal, ErrClosed)
				<-c.done
			}
		}
		l.t.forgetListener(l)
		close(l.done)
	})
	<-l.done
	return nil
}

func (t *Transport) forgetListener(l *listener) {
	t.mu.Lock()
	delete(t.listeners, l)
	t.mu.Unlock()
}
