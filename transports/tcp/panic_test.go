package tcp

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// A worker reached over TCP panics. The connection's reader found the
// node's loop idle and ran the handler itself; the panic stops that
// worker only: the process and the node survive, and another worker
// answers over the same listener and connection afterwards.
func TestPanicOverTCP(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	stacks := make(chan string, 1)
	server.start(t, engine.WorkerFunc(func(_ *engine.Context, m *wire.Message) error {
		stacks <- string(debug.Stack())
		panic("boom: " + string(m.Payload()))
	}), "bomb")
	server.start(t, engine.Echo{}, "echoer")
	l := server.listen(t, "bomb", "echoer")

	client := newTestNode(t, "client", Config{})
	app := client.app(t, "app")
	if err := app.Send(wire.MustParseRoute(l.Addr().String()+" => bomb"), []byte("from the network")); err != nil {
		t.Fatal(err)
	}
	if stack := <-stacks; !strings.Contains(stack, "gnet") {
		t.Fatalf("the handler did not run on the connection's reader:\n%s", stack)
	}
	eventually(t, "the panic to be counted", func() bool { return server.Stats().Panics == 1 })
	if got, _ := request(t, app, l.Addr().String()+" => echoer", "still here"); got != "still here" {
		t.Fatalf("reply %q", got)
	}
	// The worker is gone: what is sent to it now is dropped as unknown.
	if err := app.Send(wire.MustParseRoute(l.Addr().String()+" => bomb"), nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the message to the stopped worker to be dropped", func() bool { return server.Stats().UnknownAddress == 1 })
	if s := client.tr.Stats(); s.Dialed != 1 {
		t.Fatalf("client stats %+v: want one connection throughout", s)
	}
}
