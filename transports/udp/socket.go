package udp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/internal/traffic"
	"github.com/hopwire/hopwire/wire"
)

// socket is a bound UDP socket of a Transport. Messages that arrive on it
// carry its flow: they reach only the workers allowed for it
// (node.Allow(s.Flow(), ...)). Replies to its peers leave from it.
type socket struct {
	t      *Transport
	flow   uint64
	client bool            // the transport's client socket: Config.ClientFlow, solicited peers only
	addr   string          // bound ip:port, set before booted is closed
	route  wire.Address    // 2#addr, set with addr
	family int             // unix.AF_INET or AF_INET6, set before booted is closed
	fd     int             // our dup of gnet's descriptor, for sendto; -1 if none
	in     *engine.Inbound // delivers what the socket's gnet loop reads
	stray  *engine.Link    // the origin of datagrams from senders the peer table cannot hold

	visitors map[netip.AddrPort]visitor // loop only: peers at home on another socket
	poll     *poller                    // nil unless Config.BusyPoll; loop only

	// Senders count themselves in around sendto, so that Close closes fd
	// only once no sendto can be using it (a closed descriptor number may
	// be reused at once by another socket).
	senders atomic.Int64
	closed  atomic.Bool
	io      traffic.Counters // what it carried (Stats)

	eng     gnet.Engine   // set in OnBoot, before booted is closed
	booted  chan struct{} // closed once gnet has bound the socket
	stopped chan struct{} // closed when gnet.Run has returned
	runErr  error         // gnet.Run's result, before stopped is closed
	done    chan struct{} // closed when Close has finished
	once    sync.Once
}

// Bind binds addr ("ip:port" or "host:port"; port 0 picks a free one)
// and receives datagrams on it with a gnet engine of its own. Note that
// gnet sets SO_REUSEPORT on UDP sockets: binding a port another
// SO_REUSEPORT socket of the same user holds succeeds, and the kernel
// splits the datagrams between the two.
func (t *Transport) Listen(addr string) (engine.Listener, error) {
	s, err := t.bind(addr, t.host.NewFlow(), false)
	if err != nil {
		return nil, err
	}
	t.stats.sockets.Add(1)
	t.host.Listening(s)
	return s, nil
}

func (t *Transport) bind(addr string, flow uint64, client bool) (*socket, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, &wire.AddressError{Input: addr, Err: ErrBadAddress}
	}
	s := &socket{t: t, flow: flow, client: client, fd: -1, in: t.host.NewInbound(), stray: t.host.NewLink(flow, false), poll: newPoller(&t.cfg), booted: make(chan struct{}), stopped: make(chan struct{}), done: make(chan struct{})}
	t.mu.Lock()
	if t.closed.Load() {
		t.mu.Unlock()
		return nil, ErrClosed
	}
	t.sockets[s] = struct{}{}
	t.mu.Unlock()

	// gnet.Run binds, calls OnBoot, starts the loop and returns only when
	// the engine has stopped.
	go func() {
		s.runErr = gnet.Run(&events{s: s}, "udp://"+addr, t.gnetOptions()...)
		close(s.stopped)
	}()
	select {
	case <-s.booted:
		t.addOwn(s)
		return s, nil
	case <-s.stopped:
		s.stray.Close()
		t.forgetSock(s)
		s.closeFD()
		if s.runErr == nil {
			return nil, errors.New("udp: socket stopped while starting")
		}
		return nil, s.runErr
	}
}

// onBoot keeps a dup of the socket for sending and learns the bound
// address: gnet binds port 0 without telling.
func (s *socket) onBoot(eng gnet.Engine) gnet.Action {
	fd, err := eng.Dup()
	if err != nil {
		s.t.log.Error("udp: socket: duplicating the descriptor", "err", err)
		return gnet.Shutdown
	}
	ap, family, err := localAddr(fd)
	if err != nil {
		_ = unix.Close(fd)
		s.t.log.Error("udp: socket: getsockname", "err", err)
		return gnet.Shutdown
	}
	s.fd, s.family, s.addr, s.eng = fd, family, ap.String(), eng
	s.route, _ = wire.NewAddress(wire.UDP, s.addr) // never too long
	close(s.booted)
	return gnet.None
}

// visitor is a peer at home on another socket, seen on this one.
type visitor struct {
	home *peer
	link *engine.Link
}

// Addr returns the bound address, 2#ip:port.
func (s *socket) Addr() wire.Address { return s.route }

// Done is closed when Close has finished.
func (s *socket) Done() <-chan struct{} { return s.done }

// Flow returns the flow id stamped on messages that arrive on the
// socket, for node.Allow.
func (s *socket) Flow() uint64 { return s.flow }

// send writes one datagram. Safe for concurrent use; it does not block
// and does not allocate.
func (s *socket) send(b []byte, sa *sockaddr) error {
	s.senders.Add(1)
	if s.closed.Load() {
		s.senders.Add(-1)
		return ErrSocketClosed
	}
	err := sendto(s.fd, b, sa)
	s.senders.Add(-1)
	if err == nil {
		s.io.MsgsOut.Add(1)
		s.io.BytesOut.Add(uint64(len(b)))
	}
	return err
}

// Close stops receiving, forgets the peers whose replies left from the
// socket and closes it. It waits until gnet has let go of it; calling it
// again does nothing.
func (s *socket) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		s.t.forgetSocket(s)
		select {
		case <-s.booted:
			// Engine.Stop shuts the engine down at once, then polls every
			// 500 ms for the end; gnet.Run returning is the end, so stop
			// the poll as soon as it does.
			ctx, cancel := context.WithCancel(context.Background())
			polled := make(chan struct{})
			go func() {
				_ = s.eng.Stop(ctx)
				close(polled)
			}()
			<-s.stopped
			cancel()
			<-polled
		case <-s.stopped:
		}
		s.closeFD()
		s.stray.Close()
		s.closeVisitors() // the loop has stopped
		s.t.closedIO.Add(&s.io)
		if s.t.forgetSock(s) && !s.client {
			s.t.stats.sockets.Add(-1)
		}
		close(s.done)
	})
	<-s.done
	return nil
}

// closeFD closes the send descriptor once no sender is using it. Senders
// never block, so the wait is short.
func (s *socket) closeFD() {
	s.closed.Store(true)
	for s.senders.Load() != 0 {
		runtime.Gosched()
	}
	if s.fd >= 0 {
		_ = unix.Close(s.fd)
		s.fd = -1
	}
}

// forgetSock removes s from the transport's sockets and reports whether
// it was there.
func (t *Transport) forgetSock(s *socket) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.sockets[s]
	delete(t.sockets, s)
	if ap, err := netip.ParseAddrPort(s.addr); err == nil {
		own := slices.DeleteFunc(slices.Clone(*t.own.Load()), func(a netip.AddrPort) bool { return a == ap })
		t.own.Store(&own)
	}
	return ok
}

// addOwn adds s's bound address to those fromSelf knows.
func (t *Transport) addOwn(s *socket) {
	ap, err := netip.ParseAddrPort(s.addr)
	if err != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	own := append(slices.Clone(*t.own.Load()), ap)
	t.own.Store(&own)
}
