package engine_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// The seed's first example: app -> hopper1 -> hopper2 -> hopper3 -> echoer
// and back. Each hop puts itself on the return route, so the echoer's
// reply retraces the path.
func Example() {
	node, err := engine.NewNode(engine.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Close()

	node.StartWorker(engine.Echo{}, wire.LocalAddr("echoer"))
	for _, h := range []string{"hopper1", "hopper2", "hopper3"} {
		node.StartWorker(engine.Hop{}, wire.LocalAddr(h))
	}
	app, _ := node.NewContext(wire.LocalAddr("app"))
	route := wire.MustParseRoute("hopper1 => hopper2 => hopper3 => echoer")
	reply, err := app.Request(route, []byte("Hello Ockam!"), 5*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reply.Release()
	fmt.Printf("%s\nreturn route: %v\n", reply.Payload(), reply.Return())
	// Output:
	// Hello Ockam!
	// return route: 0#hopper1 => 0#hopper2 => 0#hopper3 => 0#echoer
}

// A worker of your own: it reverses the payload in place and replies.
func ExampleWorkerFunc() {
	node, _ := engine.NewNode(engine.Config{})
	defer node.Close()

	reverse := engine.WorkerFunc(func(ctx *engine.Context, m *wire.Message) error {
		p := m.Payload()
		for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
			p[i], p[j] = p[j], p[i]
		}
		return ctx.Reply(m)
	})
	node.StartWorker(reverse, wire.LocalAddr("reverse"))
	node.StartWorker(engine.Uppercase{}, wire.LocalAddr("upper"))
	node.StartWorker(engine.Forwarder{Route: wire.MustParseRoute("reverse")}, wire.LocalAddr("fwd"))

	app, _ := node.NewContext(wire.LocalAddr("app"))
	for _, to := range []string{"fwd", "upper"} {
		reply, err := app.Request(wire.MustParseRoute(to), []byte("stressed"), 5*time.Second)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(to, string(bytes.Clone(reply.Payload())))
		reply.Release()
	}
	// Output:
	// fwd desserts
	// upper STRESSED
}
