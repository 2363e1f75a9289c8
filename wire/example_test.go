package wire_test

import (
	"fmt"

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
