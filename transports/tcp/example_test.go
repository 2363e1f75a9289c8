package tcp_test

import (
	"fmt"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/wire"
)

// Two nodes over TCP: the server's echoer is allowed for its listener
// (remote traffic reaches nothing else), the client's route names the
// listener's address and the worker behind it. The reply comes back over
// the same connection.
func Example() {
	server, _ := engine.NewNode(engine.Config{Name: "server"})
	defer server.Close()
	str, _ := tcp.New(server, tcp.Config{})
	server.StartWorker(engine.Echo{}, wire.LocalAddr("echoer"))
	l, err := str.Listen("127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	server.Allow(l.Flow(), wire.LocalAddr("echoer"))

	client, _ := engine.NewNode(engine.Config{Name: "client"})
	defer client.Close()
	tcp.New(client, tcp.Config{})
	app, _ := client.NewContext(wire.LocalAddr("app"))

	route := wire.MustParseRoute(l.Addr().String() + " => echoer")
	reply, err := app.Request(route, []byte("Hello Ockam!"), 5*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reply.Release()
	ret := reply.Return() // [the client's worker for the connection, echoer]
	fmt.Printf("%s\nback over a connection worker: %v, from %v\n", reply.Payload(), ret[0].Type() == wire.Local, ret[1])
	// Output:
	// Hello Ockam!
	// back over a connection worker: true, from 0#echoer
}

// Connect opens a connection of its own: a route through its address
// (its worker's) uses that connection, whatever else is open to the same
// peer.
func ExampleTransport_Connect() {
	server, _ := engine.NewNode(engine.Config{Name: "server"})
	defer server.Close()
	str, _ := tcp.New(server, tcp.Config{})
	server.StartWorker(engine.Uppercase{}, wire.LocalAddr("upper"))
	l, _ := str.Listen("127.0.0.1:0")
	server.Allow(l.Flow(), wire.LocalAddr("upper"))

	client, _ := engine.NewNode(engine.Config{Name: "client"})
	defer client.Close()
	ctr, _ := tcp.New(client, tcp.Config{})
	conn, err := ctr.Connect(l.Addr().Value())
	if err != nil {
		fmt.Println(err)
		return
	}
	app, _ := client.NewContext(wire.LocalAddr("app"))
	reply, err := app.Request(wire.Route{conn.Addr(), wire.MustParseAddress("upper")}, []byte("over my own connection"), 5*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reply.Release()
	fmt.Printf("%s\n", reply.Payload())
	// Output:
	// OVER MY OWN CONNECTION
}

// A public hop on a middle node routes a peer's message on to another
// node only where the middle node allows it to dial
// (engine.Config.AllowDial); the peer's message keeps its origin past the
// hop, so it reaches nothing on the middle node that its listener was not
// allowed.
func Example_accessThroughAHop() {
	responder, _ := engine.NewNode(engine.Config{Name: "responder"})
	defer responder.Close()
	rtr, _ := tcp.New(responder, tcp.Config{})
	responder.StartWorker(engine.Echo{}, wire.LocalAddr("echoer"))
	rl, _ := rtr.Listen("127.0.0.1:0")
	responder.Allow(rl.Flow(), wire.LocalAddr("echoer"))

	middle, _ := engine.NewNode(engine.Config{Name: "middle", AllowDial: []string{rl.Addr().String()}})
	defer middle.Close()
	mtr, _ := tcp.New(middle, tcp.Config{})
	middle.StartWorker(engine.Hop{}, wire.LocalAddr("hop"))
	middle.StartWorker(engine.Uppercase{}, wire.LocalAddr("private")) // not allowed for the listener
	ml, _ := mtr.Listen("127.0.0.1:0")
	middle.Allow(ml.Flow(), wire.LocalAddr("hop"))

	client, _ := engine.NewNode(engine.Config{Name: "client"})
	defer client.Close()
	tcp.New(client, tcp.Config{})
	app, _ := client.NewContext(wire.LocalAddr("app"))

	for _, try := range []struct {
		to   string
		wait time.Duration
	}{
		{"hop => " + rl.Addr().String() + " => echoer", 5 * time.Second},
		{"hop => private", 5 * time.Second}, // denied: the middle node says so
	} {
		reply, err := app.Request(wire.MustParseRoute(ml.Addr().String()+" => "+try.to), []byte("hello"), try.wait)
		if err != nil {
			fmt.Println("no answer:", err)
			continue
		}
		fmt.Printf("%s\n", reply.Payload())
		reply.Release()
	}
	fmt.Println("denied on the middle node:", middle.Stats().Denied)
	// Output:
	// hello
	// no answer: engine: refused: middle: 0#private: no such worker reachable from your link
	// denied on the middle node: 1
}

// Once the transport is registered, the node drives it by address type:
// what it listens on and what it opened are engine handles, listed by the
// node and closed through them.
func Example_throughTheNode() {
	node, _ := engine.NewNode(engine.Config{})
	defer node.Close()
	tcp.New(node, tcp.Config{})
	node.StartWorker(engine.Echo{}, wire.LocalAddr("echo"))

	l, err := node.Listen(wire.TCP, "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	node.Allow(l.Flow(), wire.LocalAddr("echo"))
	conn, err := node.Connect(wire.TCP, l.Addr().Value()) // to itself, for the example
	if err != nil {
		fmt.Println(err)
		return
	}
	app, _ := node.NewContext(wire.LocalAddr("app"))
	reply, err := app.Request(wire.Route{conn.Addr(), wire.LocalAddr("echo")}, []byte("hi"), 5*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s; listeners: %d, links: %d\n", reply.Payload(), len(node.Listeners()), len(node.Links()))
	reply.Release()
	conn.Close()
	<-conn.Done()
	l.Close()
	fmt.Println("listeners after Close:", len(node.Listeners()))
	// Output:
	// hi; listeners: 1, links: 2
	// listeners after Close: 0
}
