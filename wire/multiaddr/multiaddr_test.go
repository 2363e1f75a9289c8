package multiaddr_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hopwire/hopwire/wire"
	"github.com/hopwire/hopwire/wire/multiaddr"
)

const hex32 = "3f2a0123456789abcdef0123456789ab"

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in, canon, route string // canon "" means in is canonical
	}{
		{"/service/echo", "", "0#echo"},
		{"/service/a.b_c-d", "", "0#a.b_c-d"},
		{"/worker/" + hex32, "", "0#" + hex32},
		{"/worker/" + strings.ToUpper(hex32), "/worker/" + hex32, "0#" + hex32},
		{"/worker/00", "", "0#00"},
		{"/ip4/127.0.0.1/tcp/4000", "", "1#127.0.0.1:4000"},
		{"/ip4/10.0.0.1/udp/05000", "/ip4/10.0.0.1/udp/5000", "2#10.0.0.1:5000"},
		{"/ip4/1.2.3.4/tcp/65535", "", "1#1.2.3.4:65535"},
		{"/ip6/::1/tcp/4000", "", "1#[::1]:4000"},
		{"/ip6/0:0:0:0:0:0:0:1/udp/9", "/ip6/::1/udp/9", "2#[::1]:9"},
		{"/ip6/::FFFF:1.2.3.4/tcp/80", "/ip6/::ffff:1.2.3.4/tcp/80", "1#[::ffff:1.2.3.4]:80"},
		{"/dnsaddr/localhost/tcp/4000", "", "1#localhost:4000"},
		{"/dnsaddr/Node-1.example.com/tcp/443/service/api", "", "1#Node-1.example.com:443 => api"},
		{"/ip4/127.0.0.1/tcp/3000/service/hop/ip4/127.0.0.1/tcp/4000/service/echo", "",
			"1#127.0.0.1:3000 => hop => 1#127.0.0.1:4000 => echo"},
		{"/ip4/1.2.3.4/tcp/1/ip4/1.2.3.4/udp/2/worker/ab", "", "1#1.2.3.4:1 => 2#1.2.3.4:2 => ab"},
		{"/service/" + strings.Repeat("a", 255), "", "0#" + strings.Repeat("a", 255)},
		{strings.Repeat("/service/a", 255), "", strings.TrimSuffix(strings.Repeat("a => ", 255), " => ")},
	} {
		m, err := multiaddr.Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		want := c.canon
		if want == "" {
			want = c.in
		}
		if m.String() != want {
			t.Errorf("Parse(%q).String() = %q, want %q", c.in, m, want)
		}
		if again := multiaddr.MustParse(m.String()); again != m || !again.IsValid() {
			t.Errorf("%q does not round-trip: %q", c.in, again)
		}
		r, err := m.Route(nil)
		if err != nil {
			t.Errorf("%q.Route: %v", c.in, err)
		} else if !r.Equal(wire.MustParseRoute(c.route)) {
			t.Errorf("%q.Route = %v, want %v", c.in, r, c.route)
		}
	}
}

func TestParseErrors(t *testing.T) {
	long := strings.Repeat("a", 250)
	host := strings.Repeat("abcd.", 50) + "com" // 253 bytes, the most a DNS name may have
	for _, c := range []struct {
		in, msg string // msg: the error's text after `bad address "IN": `
		err     error
		seg     string
	}{
		{"/ip4/1.2.3/tcp/4", `"1.2.3" is not an IPv4 address`, multiaddr.ErrBadValue, "/ip4/1.2.3"},
		{"/ip4/127.0.0.1", `/ip4 needs /tcp/PORT or /udp/PORT after it`, multiaddr.ErrOrder, "/ip4/127.0.0.1"},
		{"/tcp/80", `"tcp" must follow /ip4, /ip6 or /dnsaddr`, multiaddr.ErrOrder, "/tcp/80"},
		{"/foo/x", `unknown protocol "foo"`, multiaddr.ErrUnknownProto, "/foo/x"},
		{"", `empty address`, multiaddr.ErrEmpty, ""},
		{"service/echo", `must start with "/"`, multiaddr.ErrSyntax, ""},
		{"/service/", `missing name after /service`, multiaddr.ErrSyntax, "/service/"},
		{"/ip4/1.2.3.4/tcp/99999", `"99999" is not a port (1-65535)`, multiaddr.ErrBadValue, "/tcp/99999"},

		{"/service", `missing name after /service`, multiaddr.ErrSyntax, "/service"},
		{"/", `empty segment (a "//" or a trailing "/")`, multiaddr.ErrSyntax, "/"},
		{"/service/echo/", `empty segment (a "//" or a trailing "/")`, multiaddr.ErrSyntax, "/"},
		{"//service/echo", `empty segment (a "//" or a trailing "/")`, multiaddr.ErrSyntax, "//service"},
		{" /service/echo", `must start with "/"`, multiaddr.ErrSyntax, ""},
		{"/SERVICE/echo", `unknown protocol "SERVICE"`, multiaddr.ErrUnknownProto, "/SERVICE/echo"},
		{"/service/" + long + "123456", `"` + long[:64] + `..." is longer than 255 bytes`, multiaddr.ErrBadValue, "/service/" + long + "123456"},
		{"/worker/abc", `"abc" is not a worker id (an even number of hex digits)`, multiaddr.ErrBadValue, "/worker/abc"},
		{"/worker/zz", `"zz" is not a worker id (an even number of hex digits)`, multiaddr.ErrBadValue, "/worker/zz"},
		{"/worker", `missing worker id after /worker`, multiaddr.ErrSyntax, "/worker"},
		{"/node/a.b", `"a.b" is not a node name (1-64 of A-Z a-z 0-9 _ -)`, multiaddr.ErrBadValue, "/node/a.b"},
		{"/node/" + strings.Repeat("n", 65), `"` + strings.Repeat("n", 64) + `..." is not a node name (1-64 of A-Z a-z 0-9 _ -)`, multiaddr.ErrBadValue, "/node/" + strings.Repeat("n", 65)},
		{"/ip4/::1/tcp/1", `"::1" is not an IPv4 address`, multiaddr.ErrBadValue, "/ip4/::1"},
		{"/ip4/01.2.3.4/tcp/1", `"01.2.3.4" is not an IPv4 address`, multiaddr.ErrBadValue, "/ip4/01.2.3.4"},
		{"/ip6/1.2.3.4/tcp/1", `"1.2.3.4" is not an IPv6 address`, multiaddr.ErrBadValue, "/ip6/1.2.3.4"},
		{"/ip6/fe80::1%eth0/tcp/1", `"fe80::1%eth0" has a zone, which a multiaddr cannot hold`, multiaddr.ErrBadValue, "/ip6/fe80::1%eth0"},
		{"/ip4/1.2.3.4/tcp/0", `"0" is not a port (1-65535)`, multiaddr.ErrBadValue, "/tcp/0"},
		{"/ip4/1.2.3.4/tcp/+80", `"+80" is not a port (1-65535)`, multiaddr.ErrBadValue, "/tcp/+80"},
		{"/ip4/1.2.3.4/udp/", `missing port after /udp`, multiaddr.ErrSyntax, "/udp/"},
		{"/ip4/1.2.3.4/service/x", `/ip4 needs /tcp/PORT or /udp/PORT after it`, multiaddr.ErrOrder, "/ip4/1.2.3.4"},
		{"/ip6/::1/ip6/::1/tcp/1", `/ip6 needs /tcp/PORT or /udp/PORT after it`, multiaddr.ErrOrder, "/ip6/::1"},
		{"/service/x/udp/1", `"udp" must follow /ip4, /ip6 or /dnsaddr`, multiaddr.ErrOrder, "/udp/1"},
		{"/ip4/1.2.3.4/tcp/1/tcp/2", `"tcp" must follow /ip4, /ip6 or /dnsaddr`, multiaddr.ErrOrder, "/tcp/2"},
		{"/dnsaddr/localhost/udp/53", `"udp" cannot follow /dnsaddr: the UDP transport takes only IP addresses (/ip4 or /ip6)`, multiaddr.ErrOrder, "/udp/53"},
		{"/dnsaddr/1.2.3.4/tcp/1", `"1.2.3.4" is an IP address: use /ip4 or /ip6`, multiaddr.ErrBadValue, "/dnsaddr/1.2.3.4"},
		{"/dnsaddr/-a.com/tcp/1", `"-a.com" is not a DNS name`, multiaddr.ErrBadValue, "/dnsaddr/-a.com"},
		{"/dnsaddr/a..com/tcp/1", `"a..com" is not a DNS name`, multiaddr.ErrBadValue, "/dnsaddr/a..com"},
		{"/dnsaddr/a_b.com/tcp/1", `"a_b.com" is not a DNS name`, multiaddr.ErrBadValue, "/dnsaddr/a_b.com"},
		{"/dnsaddr/example.com./tcp/1", `"example.com." is not a DNS name`, multiaddr.ErrBadValue, "/dnsaddr/example.com."},
		{"/dnsaddr/1.2.3/tcp/1", `"1.2.3" is not a DNS name`, multiaddr.ErrBadValue, "/dnsaddr/1.2.3"},
		{"/dnsaddr/" + strings.Repeat("a", 64) + "/tcp/1", `"` + strings.Repeat("a", 64) + `" is not a DNS name`, multiaddr.ErrBadValue, "/dnsaddr/" + strings.Repeat("a", 64)},
		{"/dnsaddr/" + host + "/tcp/65535", `"` + host[:64] + `..." is longer than 255 bytes`, multiaddr.ErrBadValue, "/tcp/65535"},
		{"/dnsaddr/" + host + "a/tcp/1", `"` + host[:64] + `..." is not a DNS name`, multiaddr.ErrBadValue, "/dnsaddr/" + host + "a"},
	} {
		_, err := multiaddr.Parse(c.in)
		var e *multiaddr.Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q) = %v, want an *Error", c.in, err)
			continue
		}
		in := c.in
		if len(in) > 256 {
			in = in[:256] + "..."
		}
		if want := `bad address "` + in + `": ` + c.msg; err.Error() != want {
			t.Errorf("Parse(%q):\n got %s\nwant %s", c.in, err, want)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("Parse(%q) = %v, not %v", c.in, err, c.err)
		}
		if e.Segment != c.seg {
			t.Errorf("Parse(%q).Segment = %q, want %q", c.in, e.Segment, c.seg)
		}
		if strings.ContainsAny(err.Error(), "\n\r") {
			t.Errorf("Parse(%q): error is not one line: %q", c.in, err)
		}
	}
}

func TestParseLimits(t *testing.T) {
	_, err := multiaddr.Parse(strings.Repeat("/service/a", 256))
	if !errors.Is(err, multiaddr.ErrTooManyAddrs) || !strings.HasSuffix(err.Error(), ": more than 255 addresses") {
		t.Errorf("256 addresses: %v", err)
	}
	// Host and port are one address: 255 of them fit.
	if _, err := multiaddr.Parse(strings.Repeat("/ip4/1.2.3.4/tcp/1", 227)); err != nil {
		t.Errorf("227 TCP addresses: %v", err)
	}
	long := "/service/" + strings.Repeat("a", multiaddr.MaxLen)
	_, err = multiaddr.Parse(long)
	if !errors.Is(err, multiaddr.ErrTooLong) || !strings.HasSuffix(err.Error(), `...": longer than 4096 bytes`) {
		t.Errorf("%d bytes: %v", len(long), err)
	}
}

func TestSegments(t *testing.T) {
	m := multiaddr.MustParse("/ip6/0::1/tcp/3000/service/hop/dnsaddr/localhost/tcp/4000/worker/AB/node/n1")
	want := []multiaddr.Segment{
		{multiaddr.IP6, "::1"}, {multiaddr.TCP, "3000"}, {multiaddr.Service, "hop"},
		{multiaddr.DNSAddr, "localhost"}, {multiaddr.TCP, "4000"}, {multiaddr.Worker, "ab"}, {multiaddr.Node, "n1"},
	}
	if got := m.Segments(); !reflect.DeepEqual(got, want) {
		t.Errorf("Segments = %v, want %v", got, want)
	}
	if s := want[0].String(); s != "/ip6/::1" {
		t.Errorf("Segment.String = %q", s)
	}
	var zero multiaddr.MultiAddr
	if zero.IsValid() || zero.String() != "" || zero.Segments() != nil {
		t.Errorf("zero MultiAddr: valid %v, %q, %v", zero.IsValid(), zero, zero.Segments())
	}
	if s := multiaddr.Proto(0).String(); s != "Proto(0)" {
		t.Errorf("Proto(0) = %q", s)
	}
	if s := multiaddr.UDP.String(); s != "udp" {
		t.Errorf("UDP = %q", s)
	}
}
