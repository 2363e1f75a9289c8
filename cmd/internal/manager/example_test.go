package manager_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hopwire/hopwire/cmd/internal/manager"
	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/unix"
)

// A node with its manager on a Unix socket in a private directory, and
// a client (the CLI's side) that starts a service on it and sends it a
// message through the node.
func Example() {
	dir, err := os.MkdirTemp("", "hwm") // mode 0700
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	node, _ := engine.NewNode(engine.Config{Name: "n1", Loops: 1})
	defer node.Close()
	unix.New(node, unix.Config{EventLoops: 1}) // the manager needs the node's Unix transport
	srv, err := manager.Serve(node, manager.Config{Socket: filepath.Join(dir, "manager.sock"), Started: time.Now()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	c, err := manager.Dial(srv.Socket(), 5*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if err := c.StartService("uppercase", "shout"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.StartService("echo", "shout"))
	reply, err := c.SendMessage("shout", []byte("hello, node"), time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s\n", reply)
	info, _ := c.NodeShow()
	fmt.Println(info.Name, info.Services, info.Listeners[0].Type)
	// Output:
	// service "shout" already exists on node n1
	// HELLO, NODE
	// n1 [{shout uppercase}] unix
}
