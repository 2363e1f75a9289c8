package wire_test

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/hopwire/hopwire/wire"
)

// A message travels app -> h1 -> echoer and the echoer turns it round.
// Each hop rewrites the header in place; the payload never moves.
func Example() {
	pool := wire.NewPool(0)
	m, err := pool.Build(wire.MustParseRoute("h1 => echoer"), wire.MustParseRoute("app"), []byte("hello"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Release()

	m.Hop() // h1 consumes its address and puts itself on the return route
	fmt.Printf("at echoer: onward [%v] return [%v]\n", m.Onward(), m.Return())

	m.Turn(wire.MustParseAddress("echoer"))
	fmt.Printf("reply:     onward [%v] return [%v] payload %q\n", m.Onward(), m.Return(), m.Payload())
	// Output:
	// at echoer: onward [0#echoer] return [0#h1 => 0#app]
	// reply:     onward [0#h1 => 0#app] return [0#echoer] payload "hello"
}

func ExampleParseAddress() {
	for _, s := range []string{"echoer", "1#127.0.0.1:4000", "300#x"} {
		a, err := wire.ParseAddress(s)
		fmt.Println(a, err)
	}
	// Output:
	// 0#echoer <nil>
	// 1#127.0.0.1:4000 <nil>
	// 0# wire: address type out of range: "300#x"
}

// Two sides settle on a codec from what their Hellos offer, and a
// payload crosses compressed: the header is untouched, the payload
// shrinks, and the receiver gets it back byte for byte.
func ExampleCodec_Compress() {
	mine, theirs := wire.LocalHello(wire.Zstd.Offer()), wire.LocalHello(wire.S2.Offer())
	_, caps, _ := wire.Negotiate(mine, theirs)
	codec := wire.Settle(caps)

	pool := wire.NewPool(0)
	text := []byte(strings.Repeat(`{"user":"ada","active":true},`, 100))
	m, _ := pool.Build(wire.MustParseRoute("echoer"), wire.MustParseRoute("app"), text)
	z, ok := codec.Compress(m, wire.DefaultCompressMin) // owns m
	fmt.Printf("%v: compressed %v, %d bytes of payload for %d\n", codec, ok, len(z.Payload()), len(text))

	d, err := codec.Decompress(z) // owns z
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Release()
	fmt.Println(d.Onward(), bytes.Equal(d.Payload(), text))
	// Output:
	// s2: compressed true, 38 bytes of payload for 2900
	// 0#echoer true
}
