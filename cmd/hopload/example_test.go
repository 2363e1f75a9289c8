package main

import (
	"context"
	"fmt"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/wire"
)

// Load an echo service on a node, as `hopload --to '1#ADDR => echoer'
// --count 1000 --window 8` does.
func ExampleRun() {
	// The node to load: what `hopwire node run --tcp-listen 127.0.0.1:0
	// --echo echoer` starts.
	node, _ := engine.NewNode(engine.Config{Name: "n1"})
	defer node.Close()
	_ = node.StartWorker(engine.Echo{}, wire.LocalAddr("echoer"))
	tr, _ := tcp.New(node, tcp.Config{})
	l, _ := tr.Listen("127.0.0.1:0")
	_ = node.Allow(l.Flow(), wire.LocalAddr("echoer"))

	res, err := Run(context.Background(), Config{Route: l.Addr().String() + " => echoer", Count: 1000, Window: 8})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("sent %d, received %d, lost %d, errors %d\n", res.Sent, res.Received, res.Lost, res.Errors)
	fmt.Println(res.Err())
	// Output:
	// sent 1000, received 1000, lost 0, errors 0
	// <nil>
}
