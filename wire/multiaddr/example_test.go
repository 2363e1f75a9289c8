package multiaddr_test

import (
	"errors"
	"fmt"

	"github.com/hopwire/hopwire/wire"
	"github.com/hopwire/hopwire/wire/multiaddr"
)

// A multiaddr crossing two TCP hops becomes a route, a /node is found by a
// resolver, and a route prints back as a multiaddr.
func Example() {
	m, err := multiaddr.Parse("/ip4/127.0.0.1/tcp/3000/service/hop/ip4/127.0.0.1/tcp/4000/service/echo")
	if err != nil {
		fmt.Println(err)
		return
	}
	r, _ := m.Route(nil)
	fmt.Println(r)
	fmt.Println(m.Segments()[0])

	listeners := map[string]string{"alpha": "1#10.0.0.1:4000"}
	resolve := func(node string) (wire.Address, error) {
		if a, ok := listeners[node]; ok {
			return wire.ParseAddress(a)
		}
		return wire.Address{}, errors.New("no such node")
	}
	r, _ = multiaddr.MustParse("/node/alpha/service/echo").Route(resolve)
	fmt.Println(r)
	_, err = multiaddr.MustParse("/node/beta/service/echo").Route(resolve)
	fmt.Println(err)

	back, _ := multiaddr.FromRoute(wire.MustParseRoute("2#[::1]:9 => 0#3f2a0123456789abcdef0123456789ab"))
	fmt.Println(back)

	_, err = multiaddr.Parse("/ip4/1.2.3/tcp/4")
	fmt.Println(err)
	// Output:
	// 1#127.0.0.1:3000 => 0#hop => 1#127.0.0.1:4000 => 0#echo
	// /ip4/127.0.0.1
	// 1#10.0.0.1:4000 => 0#echo
	// bad address "/node/beta/service/echo": cannot resolve node "beta": no such node
	// /ip6/::1/udp/9/worker/3f2a0123456789abcdef0123456789ab
	// bad address "/ip4/1.2.3/tcp/4": "1.2.3" is not an IPv4 address
}
