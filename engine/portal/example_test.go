package portal_test

import (
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/engine/portal"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/wire"
)

// A TCP service on one node reached through a portal from another: the
// outlet's node listens for hopwire traffic, the inlet's node listens
// for the clients; a client's bytes go through unchanged.
func Example() {
	// The service: it upper-cases what it reads, after the client's EOF.
	svc, _ := net.Listen("tcp", "127.0.0.1:0")
	defer svc.Close()
	go func() {
		c, err := svc.Accept()
		if err != nil {
			return
		}
		b, _ := io.ReadAll(c)
		c.Write([]byte(strings.ToUpper(string(b))))
		c.Close()
	}()

	// Node 2: the outlet, reachable through its hopwire listener.
	n2, _ := engine.NewNode(engine.Config{Name: "n2"})
	defer n2.Close()
	tcp.New(n2, tcp.Config{})
	l, _ := n2.Listen(wire.TCP, "127.0.0.1:0")
	outlet, _ := portal.NewOutlet(n2, wire.LocalAddr("outlet"), portal.OutletConfig{Target: svc.Addr().String()})
	defer outlet.Close()
	n2.Allow(l.Flow(), wire.LocalAddr("outlet"))

	// Node 1: the inlet, on a port of its own.
	n1, _ := engine.NewNode(engine.Config{Name: "n1"})
	defer n1.Close()
	tcp.New(n1, tcp.Config{})
	inlet, err := portal.NewInlet(n1, portal.InletConfig{
		Listen: "127.0.0.1:0",
		Route:  wire.Route{l.Addr(), wire.LocalAddr("outlet")}, // 1#127.0.0.1:PORT => outlet
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer inlet.Close()

	// A client of the service, through the portal.
	c, _ := net.Dial("tcp", inlet.Addr())
	defer c.Close()
	c.Write([]byte("hello through the portal"))
	c.(*net.TCPConn).CloseWrite()
	reply, _ := io.ReadAll(c)
	fmt.Println(string(reply))
	// Output: HELLO THROUGH THE PORTAL
}
