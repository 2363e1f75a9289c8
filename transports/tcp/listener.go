package tcp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/hopwire/hopwire/wire"
)

// Listener accepts connections for a Transport. Messages that arrive
// over them carry the listener's flow: they reach only the workers
// allowed for it (node.Allow(l.Flow(), ...)), and connection workers.
type Listener struct {
	t    *Transport
	flow uint64
	addr string // bound host:port, set before booted is closed

	eng     gnet.Engine   // set in OnBoot, before booted is closed
	booted  chan struct{} // closed once gnet has bound the socket
	stopped chan struct{} // closed when gnet.Run has returned
	runErr  error         // gnet.Run's result, before stopped is closed
	once    sync.Once
}

// Listen binds addr ("host:port"; port 0 picks a free one) and accepts
// connections on it with a gnet engine of its own.
func (t *Transport) Listen(addr string) (*Listener, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, &wire.AddressError{Input: addr, Err: ErrBadAddress}
	}
	l := &Listener{t: t, flow: t.node.NewFlow(), booted: make(chan struct{}), stopped: make(chan struct{})}
	t.mu.Lock()
	if t.closed.Load() {
		t.mu.Unlock()
		return nil, ErrClosed
	}
	t.listeners[l] = struct{}{}
	t.mu.Unlock()

	// gnet.Run binds, calls OnBoot, starts the loops and returns only
	// when the engine has stopped and every connection has had OnClose.
	go func() {
		l.runErr = gnet.Run(&events{t: t, l: l}, "tcp://"+addr, t.gnetOptions()...)
		close(l.stopped)
	}()
	select {
	case <-l.booted:
		return l, nil
	case <-l.stopped:
		t.forgetListener(l)
		if l.runErr == nil {
			return nil, errors.New("tcp: listener stopped while starting")
		}
		return nil, l.runErr
	}
}

// onBoot learns the bound address: gnet binds port 0 without telling.
func (l *Listener) onBoot(eng gnet.Engine) gnet.Action {
	fd, err := eng.Dup()
	if err != nil {
		l.t.log.Error("tcp: listener: duplicating the socket", "err", err)
		return gnet.Shutdown
	}
	sa, err := unix.Getsockname(fd)
	_ = unix.Close(fd)
	if err != nil {
		l.t.log.Error("tcp: listener: getsockname", "err", err)
		return gnet.Shutdown
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		l.addr = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)).String()
	case *unix.SockaddrInet6:
		l.addr = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)).String()
	default:
		l.t.log.Error("tcp: listener: unexpected socket address", "addr", sa)
		return gnet.Shutdown
	}
	l.eng = eng
	close(l.booted)
	return gnet.None
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
		select {
		case <-l.booted:
			// Engine.Stop shuts the engine down at once, then polls every
			// 500 ms for the end; gnet.Run returning is the end, so stop
			// the poll as soon as it does.
			ctx, cancel := context.WithCancel(context.Background())
			polled := make(chan struct{})
			go func() {
				_ = l.eng.Stop(ctx)
				close(polled)
			}()
			<-l.stopped
			cancel()
			<-polled
		case <-l.stopped:
		}
		l.t.forgetListener(l)
	})
	<-l.stopped
	return nil
}

func (t *Transport) forgetListener(l *Listener) {
	t.mu.Lock()
	delete(t.listeners, l)
	t.mu.Unlock()
}
