package multiaddr

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/hopwire/hopwire/wire"
)

// Resolver finds a node's transport address (usually its TCP listener) by
// name, for a /node segment.
type Resolver func(node string) (wire.Address, error)

// Route returns the route m names: a host and its port become one TCP or
// UDP address, /service and /worker a local address, and /node whatever
// resolve returns for it. resolve may be nil if m has no /node segment; a
// /node segment then is an error. A resolver's error comes back wrapped in
// an *Error naming the node (errors.Is sees ErrResolve and the cause).
func (m MultiAddr) Route(resolve Resolver) (wire.Route, error) {
	if !m.IsValid() {
		return nil, newErr("", "", ErrEmpty, "empty address")
	}
	segs := m.Segments()
	r := make(wire.Route, 0, len(segs))
	for i := 0; i < len(segs); i++ {
		s := segs[i]
		var (
			a   wire.Address
			err error
		)
		switch s.Proto {
		case Service, Worker:
			a, err = wire.NewAddress(wire.Local, s.Value)
		case Node:
			a, err = m.resolve(resolve, s)
		default: // a host; Parse put its port after it
			host, port := s.Value, segs[i+1]
			i++
			if s.Proto == IP6 {
				host = "[" + host + "]"
			}
			t := wire.TCP
			if port.Proto == UDP {
				t = wire.UDP
			}
			a, err = wire.NewAddress(t, host+":"+port.Value)
		}
		if err != nil {
			return nil, err
		}
		r = append(r, a)
	}
	return r, nil
}

func (m MultiAddr) resolve(resolve Resolver, s Segment) (wire.Address, error) {
	if resolve == nil {
		return wire.Address{}, newErr(m.s, s.String(), ErrNoResolver, s.String()+" needs a resolver")
	}
	a, err := resolve(s.Value)
	if err != nil {
		e := newErr(m.s, s.String(), ErrResolve, "cannot resolve node "+quote(s.Value)+": "+err.Error())
		e.Cause = err
		return wire.Address{}, e
	}
	if !a.IsValid() {
		return wire.Address{}, newErr(m.s, s.String(), ErrResolve, "resolver gave no address for node "+quote(s.Value))
	}
	return a, nil
}

// FromRoute returns the multiaddr of route r, for printing it: a local
// address of 32 lowercase hex digits (a TCP connection's worker) is a
// /worker, any other a /service; a TCP or UDP address is /ip4, /ip6 or
// /dnsaddr with /tcp or /udp. Unix and other address types have no
// multiaddr form. Values come back canonical, so Route of the result is r
// when r's addresses are in the form Route makes (ports without leading
// zeros, IPv6 as netip prints it).
func FromRoute(r wire.Route) (MultiAddr, error) {
	switch {
	case len(r) == 0:
		return MultiAddr{}, newErr("", "", ErrEmpty, "empty route")
	case len(r) > wire.MaxRouteLen:
		return MultiAddr{}, newErr(r.String(), "", ErrTooManyAddrs, "more than "+strconv.Itoa(wire.MaxRouteLen)+" addresses")
	}
	var b []byte
	for _, a := range r {
		var err error
		if b, err = appendAddr(b, a); err != nil {
			return MultiAddr{}, err
		}
	}
	if len(b) > MaxLen {
		return MultiAddr{}, newErr(r.String(), "", ErrTooLong, "its multiaddr is longer than "+strconv.Itoa(MaxLen)+" bytes")
	}
	return MultiAddr{string(b)}, nil
}

// appendAddr appends the segments of address a to b.
func appendAddr(b []byte, a wire.Address) ([]byte, error) {
	v := a.Value()
	fail := func(err error, reason string) ([]byte, error) {
		return nil, newErr(a.String(), "", err, reason)
	}
	switch t := a.Type(); {
	case !a.IsValid():
		return fail(ErrEmpty, "empty address in route")
	case t == wire.Local && strings.Contains(v, "/"):
		return fail(ErrNoForm, `a worker name with "/" has no multiaddr form`)
	case t == wire.Local && isWorkerID(v):
		return appendSeg(b, Worker, v), nil
	case t == wire.Local:
		return appendSeg(b, Service, v), nil
	case t != wire.TCP && t != wire.UDP:
		return fail(ErrNoForm, "type "+strconv.Itoa(int(t))+" addresses have no multiaddr form")
	}
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return fail(ErrBadValue, quote(v)+" is not HOST:PORT")
	}
	host, port := v[:i], v[i+1:]
	hp := IP4
	if h, ok := strings.CutPrefix(host, "["); ok {
		host, ok = strings.CutSuffix(h, "]")
		if !ok {
			return fail(ErrBadValue, quote(v)+" is not HOST:PORT")
		}
		hp = IP6
	} else if strings.Contains(host, ":") {
		return fail(ErrBadValue, quote(v)+" is not HOST:PORT (an IPv6 address goes in brackets)")
	} else if ip, err := netip.ParseAddr(host); err != nil || !ip.Is4() {
		hp = DNSAddr
	}
	pp := TCP
	if a.Type() == wire.UDP {
		if hp == DNSAddr {
			return fail(ErrNoForm, "a UDP address needs an IP address, not "+quote(host))
		}
		pp = UDP
	}
	for _, s := range [2]Segment{{hp, host}, {pp, port}} {
		if s.Value == "" {
			return fail(ErrBadValue, quote(v)+" is not HOST:PORT")
		}
		c, reason := canonical(s.Proto, s.Value)
		if reason != "" {
			return fail(ErrBadValue, reason)
		}
		b = appendSeg(b, s.Proto, c)
	}
	return b, nil
}
