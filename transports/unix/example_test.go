package unix_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/unix"
	"github.com/hopwire/hopwire/wire"
)

// Two nodes over a Unix socket: the server listens on a socket file in a
// directory of its own (the file's mode is 0600: only its owner may
// connect), its echoer allowed for the listener; the client's route
// names the socket's path and the worker behind it.
func Example() {
	dir, err := os.MkdirTemp("", "hopwire")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	server, _ := engine.NewNode(engine.Config{Name: "server"})
	defer server.Close()
	str, _ := unix.New(server, unix.Config{})
	server.StartWorker(engine.Echo{}, wire.LocalAddr("echoer"))
	l, err := str.Listen(filepath.Join(dir, "server.sock"))
	if err != nil {
		fmt.Println(err)
		return
	}
	server.Allow(l.Flow(), wire.LocalAddr("echoer"))
	fi, _ := os.Stat(l.Addr().Value())
	fmt.Println("socket file mode:", fi.Mode().Perm())

	client, _ := engine.NewNode(engine.Config{Name: "client"})
	defer client.Close()
	unix.New(client, unix.Config{})
	app, _ := client.NewContext(wire.LocalAddr("app"))

	route := wire.MustParseRoute(l.Addr().String() + " => echoer")
	reply, err := app.Request(route, []byte("Hello over a Unix socket!"), 5*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reply.Release()
	fmt.Printf("%s\n", reply.Payload())
	// Output:
	// socket file mode: -rw-------
	// Hello over a Unix socket!
}
