package tcp_test

import (
	"fmt"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/wire"
)

// reverser is a worker of the program's own. The engine lends it the
// message for the call, so it may turn the payload around in the
// message's own buffer and send that back along the return route: no
// copy, no allocation.
type reverser struct{}

func (reverser) HandleMessage(ctx *engine.Context, m *wire.Message) error {
	p := m.Payload()
	for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
		p[i], p[j] = p[j], p[i]
	}
	return ctx.Reply(m)
}

// A program embeds a node: the TCP transport, a listener, a worker of
// its own allowed for that listener (remote traffic reaches nothing
// else), and, as another program would, a second node that sends to it
// through the listener. docs/tuning.md says which knobs of the two
// zero Configs to turn, and when.
func Example_embed() {
	node, err := engine.NewNode(engine.Config{Name: "server"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Close()          // the transport, listener and connections close with it
	tcp.New(node, tcp.Config{}) // node.Listen and "1#..." routes find it by address type
	node.StartWorker(reverser{}, wire.LocalAddr("reverser"))
	l, err := node.Listen(wire.TCP, "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	node.Allow(l.Flow(), wire.LocalAddr("reverser"))

	client, _ := engine.NewNode(engine.Config{Name: "client"})
	defer client.Close()
	tcp.New(client, tcp.Config{})
	app, _ := client.NewContext(wire.LocalAddr("app"))
	route := wire.Route{l.Addr(), wire.LocalAddr("reverser")} // 1#127.0.0.1:PORT => reverser
	reply, err := app.Request(route, []byte("stressed"), 5*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reply.Release() // the caller owns a received message
	fmt.Printf("%s\n", reply.Payload())
	// Output:
	// desserts
}
