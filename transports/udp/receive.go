package udp

import (
	"errors"
	"net/netip"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// events is the gnet.EventHandler of one socket's gnet engine. gnet calls
// OnBoot once, then OnTraffic once per datagram, on the socket's single
// event loop.
type events struct {
	gnet.BuiltinEventEngine
	s *socket
}

// OnBoot runs once, before the engine's loop starts.
func (h *events) OnBoot(eng gnet.Engine) gnet.Action { return h.s.onBoot(eng) }

// OnTraffic runs for each datagram gnet reads; gc lives until it
// returns.
func (h *events) OnTraffic(gc gnet.Conn) gnet.Action {
	h.s.receive(gc)
	if h.s.poll != nil {
		h.s.busyPoll()
	}
	return gnet.None
}

// receive takes in the datagram gnet read. Loop only.
func (s *socket) receive(gc gnet.Conn) {
	// Next(-1) is a view of the loop's read buffer, valid until
	// OnTraffic returns: take copies the datagram out.
	buf, _ := gc.Next(-1)
	ap, ok := addrPortOf(gc.RemoteAddr())
	if !ok {
		s.t.stats.bad.Add(1)
		s.warn("udp: dropped datagram without a sender address", ap, nil)
		return
	}
	s.take(buf, ap)
}

// take takes one datagram in: copied once into a pooled message,
// checked, its sender put on the return route, handed to the node. A bad
// datagram is dropped, counted and logged; the socket carries on. Loop
// only.
func (s *socket) take(buf []byte, ap netip.AddrPort) {
	t := s.t
	s.io.MsgsIn.Add(1)
	s.io.BytesIn.Add(uint64(len(buf)))
	if t.fromSelf(ap) {
		t.stats.spoofed.Add(1)
		s.warn("udp: dropped datagram claiming to come from this node's own socket", ap, nil)
		return
	}
	p := t.peerByAP(ap)
	if s.client && (p == nil || p.sock != s) {
		t.stats.unsolicited.Add(1)
		s.warn("udp: dropped datagram on the client socket from an address this node has not sent to", ap, nil)
		return
	}
	if len(buf) > t.cfg.MaxDatagram {
		// gnet's read buffer is one byte over MaxDatagram: all we know
		// is that the datagram was larger.
		t.stats.bad.Add(1)
		s.warn("udp: dropped datagram over Config.MaxDatagram", ap, wire.ErrFrameTooLarge)
		return
	}
	body, err := wire.DatagramMessage(buf)
	if err != nil {
		t.stats.bad.Add(1)
		s.warn("udp: dropped datagram without this protocol's version", ap, err)
		return
	}
	m, err := t.pool.Alloc(len(body))
	if err != nil {
		t.stats.bad.Add(1)
		s.warn("udp: dropped datagram", ap, err)
		return
	}
	copy(m.Raw(), body)
	if err := m.Parse(); err != nil {
		m.Release()
		t.stats.bad.Add(1)
		s.warn("udp: dropped undecodable datagram", ap, err)
		return
	}
	if m.Flags()&^wire.FlagError != 0 {
		// No flag but FlagError (a refusal notice) has a meaning over
		// UDP: there is no handshake to negotiate compression in.
		m.Release()
		t.stats.bad.Add(1)
		s.warn("udp: dropped datagram with flags", ap, wire.ErrBadFlags)
		return
	}
	if m.OnwardLen() == 0 {
		m.Release()
		t.stats.bad.Add(1)
		s.warn("udp: dropped datagram", ap, wire.ErrEmptyRoute)
		return
	}
	var ret wire.Address
	link := s.stray
	if p != nil {
		if ret, link = p.addr, p.link; p.sock != s {
			link = s.visitor(p)
		}
	} else if p, err = t.learnAP(ap, s); err == nil {
		ret, link = p.addr, p.link
	} else {
		// Not a peer a reply could go to from here (an unknown zone):
		// name it anyway; the reply's Send will say what is wrong.
		ret, _ = wire.NewAddress(wire.UDP, ap.String())
	}
	if err := m.PrependReturn(ret); err != nil {
		m.Release()
		t.stats.bad.Add(1)
		s.warn("udp: dropped datagram", ap, err)
		return
	}
	if err := s.in.Deliver(link, m); err != nil { // Deliver owns m, on error too
		if errors.Is(err, engine.ErrDenied) {
			t.stats.denied.Add(1)
			s.warn("udp: denied message from the network", ap, err)
		} else if !errors.Is(err, engine.ErrClosed) {
			t.stats.undeliverable.Add(1)
			s.warn("udp: undeliverable message from the network", ap, err)
		}
	}
}

// visitor returns the link of a peer at home on another socket, as seen
// on s: it has s's rights, and its replies, which leave from its home
// socket, are let out over its home link. Loop only.
func (s *socket) visitor(p *peer) *engine.Link {
	if v := s.visitors[p.ap]; v.home == p {
		return v.link
	} else if v.link != nil {
		v.link.Close() // its home was forgotten and learned again
	}
	if len(s.visitors) >= s.t.cfg.MaxPeers {
		s.closeVisitors()
	}
	if s.visitors == nil {
		s.visitors = make(map[netip.AddrPort]visitor)
	}
	l := s.t.host.NewLink(s.flow, false)
	p.link.Accept(l)
	s.visitors[p.ap] = visitor{home: p, link: l}
	return l
}

// closeVisitors closes the visitors' links and forgets them. Loop only,
// or once the loop has stopped.
func (s *socket) closeVisitors() {
	for _, v := range s.visitors {
		v.link.Close()
	}
	s.visitors = nil
}

// warn logs a per-datagram problem with the sender's address, at most
// one line a second per message (the cause) over all the transport's
// sockets, with the number held back since the last; every one is
// counted by the caller. msg must be a constant. Callers pass a sentinel
// or an error already made, never one built for the call: a flood of bad
// datagrams costs a counter and a clock read each, and an allocation
// only for the line that goes out.
func (s *socket) warn(msg string, peer netip.AddrPort, err error) {
	if n, ok := s.t.warns.Get(msg).Allow(); ok {
		s.t.log.Warn(msg, "socket", s.addr, "peer", peer.String(), "flow", s.flow, "err", err, "suppressed", n)
	}
}

// epoch anchors nanotime's monotonic clock.
var epoch = time.Now()

func nanotime() int64 { return int64(time.Since(epoch)) }
