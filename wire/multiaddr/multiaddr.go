package multiaddr

import (
	"strconv"
	"strings"

	"github.com/hopwire/hopwire/wire"
)

// MaxLen is the longest multiaddr text Parse accepts, in bytes.
const MaxLen = 4096

// Proto is a segment's protocol. The zero Proto is invalid.
type Proto uint8

// The protocols a multiaddr may hold.
const (
	Service Proto = iota + 1 // /service/NAME: a worker by name
	Worker                   // /worker/HEX: a worker by id
	Node                     // /node/NAME: a node, found by a Resolver
	IP4                      // /ip4/A.B.C.D, before /tcp or /udp
	IP6                      // /ip6/ADDR, before /tcp or /udp
	DNSAddr                  // /dnsaddr/HOST, before /tcp
	TCP                      // /tcp/PORT, after a host
	UDP                      // /udp/PORT, after an IP address
)

var protos = [...]struct{ name, noun string }{
	Service: {"service", "name"},
	Worker:  {"worker", "worker id"},
	Node:    {"node", "node name"},
	IP4:     {"ip4", "address"},
	IP6:     {"ip6", "address"},
	DNSAddr: {"dnsaddr", "host name"},
	TCP:     {"tcp", "port"},
	UDP:     {"udp", "port"},
}

// String returns the protocol's name as written in a multiaddr: "ip4".
func (p Proto) String() string {
	if p == 0 || int(p) >= len(protos) {
		return "Proto(" + strconv.Itoa(int(p)) + ")"
	}
	return protos[p].name
}

func lookup(name string) Proto {
	for p := Service; int(p) < len(protos); p++ {
		if protos[p].name == name {
			return p
		}
	}
	return 0
}

// isHost reports whether p names a host that a port segment must follow.
func (p Proto) isHost() bool { return p == IP4 || p == IP6 || p == DNSAddr }

// isPort reports whether p is a port segment, which must follow a host.
func (p Proto) isPort() bool { return p == TCP || p == UDP }

// Segment is one "/proto/value" step of a multiaddr, its value in
// canonical form.
type Segment struct {
	Proto Proto
	Value string
}

// String returns the segment's text: "/ip4/127.0.0.1".
func (s Segment) String() string { return "/" + s.Proto.String() + "/" + s.Value }

// MultiAddr is a parsed multiaddr. It is a small comparable value holding
// its canonical text, so two MultiAddrs are == when they print the same.
// The zero MultiAddr is invalid.
type MultiAddr struct {
	s string
}

// Parse parses a multiaddr such as "/ip4/127.0.0.1/tcp/4000/service/echo".
// It accepts some values in more than one spelling (an IPv6 address, a
// port with leading zeros, a worker id in upper case) and keeps the
// canonical one. Errors are an *Error.
func Parse(s string) (MultiAddr, error) {
	switch {
	case s == "":
		return MultiAddr{}, newErr(s, "", ErrEmpty, "empty address")
	case len(s) > MaxLen:
		return MultiAddr{}, newErr(s, "", ErrTooLong, "longer than "+strconv.Itoa(MaxLen)+" bytes")
	case s[0] != '/':
		return MultiAddr{}, newErr(s, "", ErrSyntax, `must start with "/"`)
	}
	b := make([]byte, 0, len(s))
	var (
		prev    Segment // the segment before, canonical
		prevSeg string  // and as written
		addrs   int
	)
	for rest, more := s[1:], true; more; {
		var name, val string
		name, rest, more = strings.Cut(rest, "/")
		seg := "/" + name
		if more {
			val, rest, more = strings.Cut(rest, "/")
			seg += "/" + val
		}
		fail := func(err error, reason string) (MultiAddr, error) {
			return MultiAddr{}, newErr(s, seg, err, reason)
		}
		p := lookup(name)
		switch {
		case name == "":
			return fail(ErrSyntax, `empty segment (a "//" or a trailing "/")`)
		case p == 0:
			return fail(ErrUnknownProto, "unknown protocol "+quote(name))
		case prev.Proto.isHost() && !p.isPort():
			return MultiAddr{}, needsPort(s, prev.Proto, prevSeg)
		case p.isPort() && !prev.Proto.isHost():
			return fail(ErrOrder, quote(name)+" must follow /ip4, /ip6 or /dnsaddr")
		case p == UDP && prev.Proto == DNSAddr:
			return fail(ErrOrder, `"udp" cannot follow /dnsaddr: the UDP transport takes only IP addresses (/ip4 or /ip6)`)
		case val == "":
			return fail(ErrSyntax, "missing "+protos[p].noun+" after /"+name)
		}
		v, reason := canonical(p, val)
		if reason != "" {
			return fail(ErrBadValue, reason)
		}
		if p == TCP && prev.Proto == DNSAddr && len(prev.Value)+1+len(v) > wire.MaxAddressLen {
			return fail(ErrBadValue, quote(prev.Value+":"+v)+" is longer than "+strconv.Itoa(wire.MaxAddressLen)+" bytes")
		}
		if !p.isPort() {
			if addrs++; addrs > wire.MaxRouteLen {
				return fail(ErrTooManyAddrs, "more than "+strconv.Itoa(wire.MaxRouteLen)+" addresses")
			}
		}
		b = appendSeg(b, p, v)
		prev, prevSeg = Segment{p, v}, seg
	}
	if prev.Proto.isHost() {
		return MultiAddr{}, needsPort(s, prev.Proto, prevSeg)
	}
	return MultiAddr{string(b)}, nil
}

// needsPort is the error of a host segment seg, of protocol p, without its
// port segment after it.
func needsPort(s string, p Proto, seg string) error {
	return newErr(s, seg, ErrOrder, "/"+p.String()+" needs /tcp/PORT or /udp/PORT after it")
}

// MustParse is Parse that panics on error. For tests.
func MustParse(s string) MultiAddr {
	m, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

func appendSeg(b []byte, p Proto, v string) []byte {
	b = append(b, '/')
	b = append(b, p.String()...)
	b = append(b, '/')
	return append(b, v...)
}

// IsValid reports whether m is not the zero MultiAddr.
func (m MultiAddr) IsValid() bool { return m.s != "" }

// String returns m's canonical text, which Parse turns back into m. The
// zero MultiAddr prints as "".
func (m MultiAddr) String() string { return m.s }

// Segments returns m's segments in order, values in canonical form. The
// slice is new on every call; the caller may keep or change it.
func (m MultiAddr) Segments() []Segment {
	if m.s == "" {
		return nil
	}
	parts := strings.Split(m.s[1:], "/") // canonical: name, value, name, value ...
	segs := make([]Segment, 0, len(parts)/2)
	for i := 0; i+1 < len(parts); i += 2 {
		segs = append(segs, Segment{lookup(parts[i]), parts[i+1]})
	}
	return segs
}
