package udp

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// maxPolled bounds the datagrams one busy poll takes in before it gives
// the loop back to gnet, which has its own work (Stop) to look at.
const maxPolled = 4096

// poller is a socket's busy-poll state (Config.BusyPoll): its own read
// buffer and sender address, since gnet's are valid only inside
// OnTraffic and its read allocates. Loop only.
type poller struct {
	idle int64  // ns without a datagram before the poll ends
	buf  []byte // MaxDatagram + 1: a larger datagram shows as too large
	from unix.RawSockaddrAny
	size uint32 // the sockaddr length argument; a field, so it does not escape per call
}

func newPoller(cfg *Config) *poller {
	if cfg.BusyPoll <= 0 {
		return nil
	}
	return &poller{idle: int64(cfg.BusyPoll), buf: make([]byte, cfg.MaxDatagram+1)}
}

// busyPoll reads the socket without sleeping until no datagram has come
// for Config.BusyPoll, the socket closes or maxPolled datagrams are in.
// It yields between empty reads, so the node's loops and the workers the
// datagrams went to run meanwhile on the same P. An error other than
// "nothing there" ends it: gnet's next read sees it too. Loop only.
//
// Stats.Polled is a shared counter: it is brought up to date when the
// socket is found empty (where the loop only spins) and at the end, not
// per datagram.
func (s *socket) busyPoll() {
	p := s.poll
	last := nanotime()
	counted := 0
	n := 0
	defer func() { s.t.stats.polled.Add(uint64(n - counted)) }()
	for n < maxPolled && !s.closed.Load() {
		size, ap, err := recvfrom(s.fd, p)
		switch err {
		case nil:
			n++
			if !ap.IsValid() {
				s.t.stats.bad.Add(1)
				s.warn("udp: dropped datagram without a sender address", ap, nil)
			} else {
				s.take(p.buf[:size], ap)
			}
			last = nanotime()
		case unix.EAGAIN:
			if counted < n {
				s.t.stats.polled.Add(uint64(n - counted))
				counted = n
			}
			if nanotime()-last > p.idle {
				return
			}
			runtime.Gosched()
		default:
			return
		}
	}
}
