package multiaddr_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hopwire/hopwire/wire"
	"github.com/hopwire/hopwire/wire/multiaddr"
)

var errNoSuchNode = errors.New("no such node")

// nodes is a Resolver over a fixed table.
func nodes(table map[string]string) multiaddr.Resolver {
	return func(node string) (wire.Address, error) {
		a, ok := table[node]
		if !ok {
			return wire.Address{}, errNoSuchNode
		}
		return wire.ParseAddress(a)
	}
}

func TestRoute(t *testing.T) {
	resolve := nodes(map[string]string{"alpha": "1#10.0.0.1:4000", "beta": "1#beta.local:4000"})
	host := strings.Repeat("abcd.", 50) + "com"
	for _, c := range []struct{ in, route string }{
		{"/node/alpha/service/echo", "1#10.0.0.1:4000 => echo"},
		{"/node/alpha/worker/" + hex32 + "/node/beta", "1#10.0.0.1:4000 => " + hex32 + " => 1#beta.local:4000"},
		{"/ip4/127.0.0.1/tcp/3000/service/hop/ip4/127.0.0.1/tcp/4000/service/echo",
			"1#127.0.0.1:3000 => hop => 1#127.0.0.1:4000 => echo"},
		{"/dnsaddr/" + host + "/tcp/1", "1#" + host + ":1"}, // 255 bytes: the longest address
	} {
		r, err := multiaddr.MustParse(c.in).Route(resolve)
		if err != nil {
			t.Errorf("%q.Route: %v", c.in, err)
			continue
		}
		if !r.Equal(wire.MustParseRoute(c.route)) || r.Validate() != nil {
			t.Errorf("%q.Route = %v, want %v", c.in, r, c.route)
		}
	}
}

func TestRouteErrors(t *testing.T) {
	m := multiaddr.MustParse("/service/hop/node/gamma/service/echo")
	_, err := m.Route(nodes(nil))
	want := `bad address "/service/hop/node/gamma/service/echo": cannot resolve node "gamma": no such node`
	if err == nil || err.Error() != want {
		t.Errorf("unresolved node:\n got %v\nwant %s", err, want)
	}
	var e *multiaddr.Error
	if !errors.Is(err, multiaddr.ErrResolve) || !errors.Is(err, errNoSuchNode) || !errors.As(err, &e) || e.Segment != "/node/gamma" {
		t.Errorf("unresolved node: %#v does not wrap ErrResolve and the resolver's error", err)
	}

	_, err = m.Route(nil)
	if !errors.Is(err, multiaddr.ErrNoResolver) || err.Error() != `bad address "/service/hop/node/gamma/service/echo": /node/gamma needs a resolver` {
		t.Errorf("nil resolver: %v", err)
	}
	_, err = m.Route(func(string) (wire.Address, error) { return wire.Address{}, nil })
	if !errors.Is(err, multiaddr.ErrResolve) || !strings.HasSuffix(err.Error(), `: resolver gave no address for node "gamma"`) {
		t.Errorf("zero address from the resolver: %v", err)
	}
	_, err = multiaddr.MultiAddr{}.Route(nil)
	if !errors.Is(err, multiaddr.ErrEmpty) {
		t.Errorf("zero MultiAddr: %v", err)
	}
}

func TestFromRoute(t *testing.T) {
	for _, c := range []struct{ route, want string }{
		{"echo", "/service/echo"},
		{"1#127.0.0.1:3000 => hop => 1#127.0.0.1:4000 => echo",
			"/ip4/127.0.0.1/tcp/3000/service/hop/ip4/127.0.0.1/tcp/4000/service/echo"},
		{"0#" + hex32 + " => 2#[::1]:9 => 1#localhost:80", "/worker/" + hex32 + "/ip6/::1/udp/9/dnsaddr/localhost/tcp/80"},
		{"0#" + strings.ToUpper(hex32) + " => abcd", "/service/" + strings.ToUpper(hex32) + "/service/abcd"}, // only lowercase 32-hex is a worker
		{"1#[::ffff:1.2.3.4]:80 => 2#1.2.3.4:65535", "/ip6/::ffff:1.2.3.4/tcp/80/ip4/1.2.3.4/udp/65535"},
		{"1#Node-1.example.com:443", "/dnsaddr/Node-1.example.com/tcp/443"},
	} {
		r := wire.MustParseRoute(c.route)
		m, err := multiaddr.FromRoute(r)
		if err != nil {
			t.Errorf("FromRoute(%v): %v", c.route, err)
			continue
		}
		if m.String() != c.want {
			t.Errorf("FromRoute(%v) = %q, want %q", c.route, m, c.want)
		}
		if back, err := m.Route(nil); err != nil || !back.Equal(r) {
			t.Errorf("FromRoute(%v).Route = %v, %v", c.route, back, err)
		}
		if multiaddr.MustParse(m.String()) != m {
			t.Errorf("FromRoute(%v) = %q does not round-trip through Parse", c.route, m)
		}
	}
}

func TestFromRouteErrors(t *testing.T) {
	for _, c := range []struct {
		route, msg string
		err        error
	}{
		{"hop => 3#/run/x.sock", `bad address "3#/run/x.sock": type 3 addresses have no multiaddr form`, multiaddr.ErrNoForm},
		{"9#x", `bad address "9#x": type 9 addresses have no multiaddr form`, multiaddr.ErrNoForm},
		{"0#a/b", `bad address "0#a/b": a worker name with "/" has no multiaddr form`, multiaddr.ErrNoForm},
		{"2#localhost:53", `bad address "2#localhost:53": a UDP address needs an IP address, not "localhost"`, multiaddr.ErrNoForm},
		{"1#noport", `bad address "1#noport": "noport" is not HOST:PORT`, multiaddr.ErrBadValue},
		{"1#:80", `bad address "1#:80": ":80" is not HOST:PORT`, multiaddr.ErrBadValue},
		{"1#[::1:80", `bad address "1#[::1:80": "[::1:80" is not HOST:PORT`, multiaddr.ErrBadValue},
		{"1#1.2.3.4:0", `bad address "1#1.2.3.4:0": "0" is not a port (1-65535)`, multiaddr.ErrBadValue},
		{"1#::1:80", `bad address "1#::1:80": "::1:80" is not HOST:PORT (an IPv6 address goes in brackets)`, multiaddr.ErrBadValue},
		{"2#[fe80::1%eth0]:9", `bad address "2#[fe80::1%eth0]:9": "fe80::1%eth0" has a zone, which a multiaddr cannot hold`, multiaddr.ErrBadValue},
	} {
		_, err := multiaddr.FromRoute(wire.MustParseRoute(c.route))
		if err == nil || err.Error() != c.msg || !errors.Is(err, c.err) {
			t.Errorf("FromRoute(%v):\n got %v\nwant %s (%v)", c.route, err, c.msg, c.err)
		}
	}
	if _, err := multiaddr.FromRoute(nil); !errors.Is(err, multiaddr.ErrEmpty) {
		t.Errorf("empty route: %v", err)
	}
	if _, err := multiaddr.FromRoute(wire.Route{wire.MustParseAddress("a"), {}}); !errors.Is(err, multiaddr.ErrEmpty) {
		t.Errorf("route with a zero address: %v", err)
	}
	if _, err := multiaddr.FromRoute(make(wire.Route, 256)); !errors.Is(err, multiaddr.ErrTooManyAddrs) {
		t.Errorf("256 addresses: %v", err)
	}
	long := wire.MustParseAddress(strings.Repeat("a", 255))
	r := wire.Route{long, long, long, long, long, long, long, long, long, long, long, long, long, long, long, long} // 16 * 264 bytes
	if _, err := multiaddr.FromRoute(r); !errors.Is(err, multiaddr.ErrTooLong) {
		t.Errorf("multiaddr over MaxLen: %v", err)
	}
}
