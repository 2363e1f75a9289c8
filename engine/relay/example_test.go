package relay_test

import (
	"fmt"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/engine/relay"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/wire"
)

// The seed's relay walk-through: n3 listens nowhere; it dials n2 and
// registers relay "n3"; n1 reaches n3's uppercase service through n2's
// forward_to_n3.
func Example() {
	// n2, the relay node.
	n2, _ := engine.NewNode(engine.Config{Name: "n2"})
	defer n2.Close()
	tcp.New(n2, tcp.Config{})
	l, err := n2.Listen(wire.TCP, "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	relay.NewService(n2, relay.ServiceConfig{}) // forwarding_service, public

	// n3, behind a firewall: a public service, no listener.
	n3, _ := engine.NewNode(engine.Config{Name: "n3"})
	defer n3.Close()
	tcp.New(n3, tcp.Config{})
	n3.StartWorker(engine.Uppercase{}, wire.LocalAddr("uppercase"))
	n3.Allow(engine.AllFlows, wire.LocalAddr("uppercase"))
	r, err := relay.Create(n3, relay.Config{Name: "n3", At: l.Addr()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	fmt.Println("relay", r.Info().Name, r.Info().State, "at", r.Info().Forward)

	// n1 connects to n2 and goes through forward_to_n3.
	n1, _ := engine.NewNode(engine.Config{Name: "n1"})
	defer n1.Close()
	tcp.New(n1, tcp.Config{})
	conn, err := n1.Connect(wire.TCP, l.Addr().Value())
	if err != nil {
		fmt.Println(err)
		return
	}
	app, _ := n1.NewContext(wire.LocalAddr("app"))
	route := append(wire.Route{conn.Addr()}, wire.MustParseRoute("forward_to_n3 => uppercase")...)
	reply, err := app.Request(route, []byte("hello from n1"), 5*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reply.Release()
	fmt.Printf("%s\n", reply.Payload())
	// Output:
	// relay n3 up at 0#forward_to_n3
	// HELLO FROM N1
}
