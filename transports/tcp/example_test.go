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
	server.StartWorker(engine.Echo{}, "echoer")
	l, err := str.Listen("127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	server.Allow(l.Flow(), "echoer")

	client, _ := engine.NewNode(engine.Config{Name: "client"})
	defer client.Close()
	tcp.New(client, tcp.Config{})
	app, _ := client.NewContext("app")

	route := wire.MustParseRoute("1#" + l.Addr() + " => echoer")
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

// Connect opens a connection of its own and returns its worker's
// address: a route through it uses that connection, whatever else is
// open to the same peer.
func ExampleTransport_Connect() {
	server, _ := engine.NewNode(engine.Config{Name: "server"})
	defer server.Close()
	str, _ := tcp.New(server, tcp.Config{})
	server.StartWorker(engine.Uppercase{}, "upper")
	l, _ := str.Listen("127.0.0.1:0")
	server.Allow(l.Flow(), "upper")

	client, _ := engine.NewNode(engine.Config{Name: "client"})
	defer client.Close()
	ctr, _ := tcp.New(client, tcp.Config{})
	conn, err := ctr.Connect(l.Addr())
	if err != nil {
		fmt.Println(err)
		return
	}
	app, _ := client.NewContext("app")
	reply, err := app.Request(wire.Route{conn, wire.MustParseAddress("upper")}, []byte("over my own connection"), 5*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reply.Release()
	fmt.Printf("%s\n", reply.Payload())
	// Output:
	// OVER MY OWN CONNECTION
}
