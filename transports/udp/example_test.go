package udp_test

import (
	"fmt"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/udp"
	"github.com/hopwire/hopwire/wire"
)

// Two nodes over UDP, one message per datagram: the server binds a socket
// and allows its echoer for it; the client sends from its client socket
// (bound to loopback here) and the reply comes back to it.
func Example() {
	server, _ := engine.NewNode(engine.Config{Name: "server"})
	defer server.Close()
	str, _ := udp.New(server, udp.Config{ClientAddr: "127.0.0.1:0"})
	server.StartWorker(engine.Echo{}, wire.LocalAddr("echoer"))
	sock, err := str.Listen("127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	server.Allow(sock.Flow(), wire.LocalAddr("echoer"))

	client, _ := engine.NewNode(engine.Config{Name: "client"})
	defer client.Close()
	udp.New(client, udp.Config{ClientAddr: "127.0.0.1:0"})
	app, _ := client.NewContext(wire.LocalAddr("app"))

	route := wire.MustParseRoute(sock.Addr().String() + " => echoer")
	reply, err := app.Request(route, []byte("Hello Ockam!"), 5*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reply.Release()
	ret := reply.Return() // [the server's UDP address, echoer]
	fmt.Printf("%s\nfrom the server's socket: %v, its %v\n", reply.Payload(), ret[0] == sock.Addr(), ret[1])
	// Output:
	// Hello Ockam!
	// from the server's socket: true, its 0#echoer
}

// Config.BusyPoll trades a CPU for latency: after a datagram a socket's
// loop goes on reading without sleeping for a while, so a reply that
// comes within it costs no thread wake-up (and none of gnet's
// allocations). Stats.Polled counts the datagrams read that way.
func ExampleConfig_busyPoll() {
	cfg := udp.Config{ClientAddr: "127.0.0.1:0", BusyPoll: 50 * time.Microsecond}
	server, _ := engine.NewNode(engine.Config{Name: "server"})
	defer server.Close()
	str, _ := udp.New(server, cfg)
	server.StartWorker(engine.Echo{}, wire.LocalAddr("echoer"))
	sock, _ := str.Listen("127.0.0.1:0")
	server.Allow(sock.Flow(), wire.LocalAddr("echoer"))

	client, _ := engine.NewNode(engine.Config{Name: "client"})
	defer client.Close()
	udp.New(client, cfg)
	app, _ := client.NewContext(wire.LocalAddr("app"))
	route := wire.MustParseRoute(sock.Addr().String() + " => echoer")
	for i := 0; i < 3; i++ {
		reply, err := app.Request(route, []byte("ping"), 5*time.Second)
		if err != nil {
			fmt.Println(err)
			return
		}
		reply.Release()
	}
	fmt.Println("3 round trips")
	// Output:
	// 3 round trips
}
