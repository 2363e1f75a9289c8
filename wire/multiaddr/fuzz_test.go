package multiaddr_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hopwire/hopwire/wire"
	"github.com/hopwire/hopwire/wire/multiaddr"
)

// FuzzParse feeds arbitrary text to Parse. Whatever it accepts prints to
// text that parses to an equal value, and turns (with a resolver giving a
// fixed TCP address) into a route that validates and prints back through
// FromRoute to the same route; whatever it refuses is one line from an
// *Error. Seeds are the examples from the tests.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/service/echo",
		"/worker/" + hex32,
		"/worker/ABCD",
		"/ip4/127.0.0.1/tcp/4000",
		"/ip6/0:0::1/udp/09",
		"/ip6/::ffff:1.2.3.4/tcp/80",
		"/dnsaddr/localhost/tcp/4000/service/api",
		"/ip4/127.0.0.1/tcp/3000/service/hop/ip4/127.0.0.1/tcp/4000/service/echo",
		"/node/alpha/service/echo",
		"/ip4/1.2.3/tcp/4",
		"/ip4/127.0.0.1",
		"/tcp/80",
		"/foo/x",
		"",
		"service/echo",
		"/service/",
		"/service/echo/",
		"/ip4/1.2.3.4/tcp/99999",
		"/dnsaddr/localhost/udp/53",
		"/ip6/fe80::1%eth0/tcp/1",
	} {
		f.Add(s)
	}
	node := wire.MustParseAddress("1#127.0.0.1:4000")
	resolve := func(string) (wire.Address, error) { return node, nil }
	f.Fuzz(func(t *testing.T, s string) {
		m, err := multiaddr.Parse(s)
		if err != nil {
			var e *multiaddr.Error
			if !errors.As(err, &e) || m.IsValid() {
				t.Fatalf("Parse(%q) = %v, %v: want the zero MultiAddr and an *Error", s, m, err)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("Parse(%q): error is not one line: %q", s, err)
			}
			return
		}
		again, err := multiaddr.Parse(m.String())
		if err != nil || again != m {
			t.Fatalf("Parse(%q) prints as %q, which parses to %q, %v", s, m, again, err)
		}
		r, err := m.Route(resolve)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("Parse(%q).Route = %v, which does not validate: %v", s, r, err)
		}
		back, err := multiaddr.FromRoute(r)
		if errors.Is(err, multiaddr.ErrTooLong) { // a /node may print longer than it was written
			return
		}
		if err != nil {
			t.Fatalf("FromRoute(%v) from %q: %v", r, s, err)
		}
		if r2, err := back.Route(nil); err != nil || !r2.Equal(r) {
			t.Fatalf("%q: route %v prints as %q, whose route is %v, %v", s, r, back, r2, err)
		}
	})
}
