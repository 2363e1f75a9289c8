// Package multiaddr turns Ockam-style multiaddrs into hopwire routes and
// back.
//
// A multiaddr is a path of "/protocol/value" segments:
//
//	/service/NAME                 a worker by name: local address NAME
//	/worker/HEX                   a worker by id (hex, printed lowercase): local address HEX
//	/ip4/A.B.C.D/tcp/PORT         "1#A.B.C.D:PORT"; /udp/PORT for "2#A.B.C.D:PORT"
//	/ip6/ADDR/tcp/PORT            "1#[ADDR]:PORT"; /udp/PORT likewise
//	/dnsaddr/HOST/tcp/PORT        "1#HOST:PORT" (TCP only: the UDP transport takes IP literals)
//	/node/NAME                    a node's listener, found by a caller's Resolver
//
// One multiaddr may cross several transport hops:
// /ip4/127.0.0.1/tcp/3000/service/hop/ip4/127.0.0.1/tcp/4000/service/echo is
// the route 1#127.0.0.1:3000 => hop => 1#127.0.0.1:4000 => echo. (Ockam
// refuses a second transport hop; hopwire allows it.)
//
// A host segment (/ip4, /ip6, /dnsaddr) must be followed by its port
// segment (/tcp, /udp), and a port segment may appear nowhere else. Protocol
// names are lowercase. There is no empty segment: "//" and a trailing "/"
// are refused. IPv6 zones and Unix-socket addresses have no multiaddr form.
//
// A MultiAddr is a small comparable value holding its canonical text; the
// zero MultiAddr is invalid. Parse, Route and FromRoute report problems as
// an *Error wrapping one of the sentinel errors, whose text is one line
// naming the bad value:
//
//	bad address "/ip4/1.2.3/tcp/4": "1.2.3" is not an IPv4 address
package multiaddr
