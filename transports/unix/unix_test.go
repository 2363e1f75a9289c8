package unix_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/internal/nodetest"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/transports/unix"
	"github.com/hopwire/hopwire/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's package-level goroutine pool (ants), started by its init.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

const wait = 10 * time.Second // generous: only a broken transport takes this long

func newNode(t *testing.T, cfg engine.Config) (*engine.Node, *unix.Transport) {
	t.Helper()
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	n := nodetest.NewNode(t, cfg)
	tr, err := unix.New(n, unix.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return n, tr
}

func listen(t *testing.T, n *engine.Node, tr *unix.Transport, path string, allow ...string) engine.Listener {
	t.Helper()
	l, err := tr.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range allow {
		if err := n.Allow(l.Flow(), wire.LocalAddr(name)); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func app(t *testing.T, n *engine.Node, addr string) *engine.App {
	t.Helper()
	a, err := n.NewContext(wire.LocalAddr(addr))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestRequestReply(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	server, str := newNode(t, engine.Config{Name: "server"})
	if err := server.StartWorker(engine.Echo{}, wire.LocalAddr("echoer")); err != nil {
		t.Fatal(err)
	}
	l := listen(t, server, str, path, "echoer")
	if l.Addr() != wire.MustParseAddress("3#"+path) {
		t.Fatalf("Addr %v, want 3#%s", l.Addr(), path)
	}

	client, ctr := newNode(t, engine.Config{Name: "client"})
	a := app(t, client, "app")
	for i := 0; i < 3; i++ {
		got, ret := nodetest.Request(t, a, "3#"+path+" => echoer", "Hello Ockam!", wait)
		if got != "Hello Ockam!" {
			t.Fatalf("reply %q", got)
		}
		if len(ret) != 2 || ret[0].Type() != wire.Local || ret[1] != wire.MustParseAddress("echoer") {
			t.Fatalf("return route %v", ret)
		}
	}
	if s := ctr.Stats(); s.Dialed != 1 || s.Open != 1 {
		t.Fatalf("client stats %+v: want one connection, reused", s)
	}
	if s := str.Stats(); s.Accepted != 1 {
		t.Fatalf("server stats %+v", s)
	}

	// Connect opens a connection of its own.
	conn, err := ctr.Connect(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.Request(wire.Route{conn.Addr(), wire.MustParseAddress("echoer")}, []byte("mine"), wait)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Payload()) != "mine" {
		t.Fatalf("reply %q", r.Payload())
	}
	r.Release()
}

// The socket file is made with mode 0600 whatever the umask lets
// through, and Close removes it.
func TestSocketFileModeAndRemoval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	server, str := newNode(t, engine.Config{Name: "server"})
	l := listen(t, server, str, path)
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket file mode %v, want a socket of mode 0600", fi.Mode())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Listener.Close: %v, want the file gone", err)
	}

	// Transport.Close (the node closing) removes its listeners' files too.
	path2 := filepath.Join(filepath.Dir(path), "t.sock")
	listen(t, server, str, path2)
	if err := str.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path2); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Transport.Close: %v, want the file gone", err)
	}
}

// A socket file left behind by a listener that is gone is replaced; one
// a listener answers on, or a file that is not a socket, is refused.
func TestStaleAndBusyPaths(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // as a process that died leaves it
	ln.Close()
	if _, err := os.Lstat(stale); err != nil {
		t.Fatalf("stale socket not left: %v", err)
	}

	server, str := newNode(t, engine.Config{Name: "server"})
	if err := server.StartWorker(engine.Echo{}, wire.LocalAddr("echoer")); err != nil {
		t.Fatal(err)
	}
	listen(t, server, str, stale, "echoer")
	client, _ := newNode(t, engine.Config{Name: "client"})
	if got, _ := nodetest.Request(t, app(t, client, "app"), "3#"+stale+" => echoer", "fresh", wait); got != "fresh" {
		t.Fatalf("reply %q", got)
	}

	// In use: by the listener above.
	if _, err := str.Listen(stale); !errors.Is(err, unix.ErrSocketInUse) {
		t.Fatalf("Listen on a live socket: %v, want ErrSocketInUse", err)
	}
	// Not a socket: left alone.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := str.Listen(file); !errors.Is(err, unix.ErrNotSocket) {
		t.Fatalf("Listen on a regular file: %v, want ErrNotSocket", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Fatalf("the file was touched: %q", b)
	}
}

func TestPathTooLong(t *testing.T) {
	n, tr := newNode(t, engine.Config{Name: "n"})
	dir := t.TempDir()
	long := filepath.Join(dir, strings.Repeat("x", unix.MaxUnixPath-len(dir)))
	if len(long) <= unix.MaxUnixPath || len(long) > wire.MaxAddressLen {
		t.Fatalf("test path of %d bytes", len(long))
	}
	_, err := tr.Listen(long)
	if !errors.Is(err, unix.ErrPathTooLong) {
		t.Fatalf("Listen: %v, want ErrPathTooLong", err)
	}
	if !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("unclear error: %v", err)
	}
	if _, err := tr.Connect(long); !errors.Is(err, unix.ErrPathTooLong) {
		t.Fatalf("Connect: %v, want ErrPathTooLong", err)
	}
	a := app(t, n, "app")
	_, err = a.Request(wire.Route{wire.MustParseAddress("3#" + long), wire.MustParseAddress("echoer")}, []byte("x"), wait)
	if !errors.Is(err, unix.ErrPathTooLong) {
		t.Fatalf("route through a long path: %v, want ErrPathTooLong", err)
	}
	if _, err := tr.Listen("@abstract"); !errors.Is(err, unix.ErrBadPath) {
		t.Fatalf("abstract name: %v, want ErrBadPath", err)
	}
	if _, err := os.Lstat(long); err == nil {
		t.Fatal("a socket file was made")
	}
}

// A worker not allowed for the listener is unreachable over the socket,
// and the denial is counted; allowed ones answer on the same connection.
func TestAccessControl(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	server, str := newNode(t, engine.Config{Name: "server"})
	for w, name := range map[engine.Worker]string{engine.Echo{}: "echoer", engine.Uppercase{}: "secret"} {
		if err := server.StartWorker(w, wire.LocalAddr(name)); err != nil {
			t.Fatal(err)
		}
	}
	listen(t, server, str, path, "echoer")

	client, _ := newNode(t, engine.Config{Name: "client"})
	a := app(t, client, "app")
	var re *engine.RefusedError
	if _, err := a.Request(wire.MustParseRoute("3#"+path+" => secret"), []byte("psst"), wait); !errors.As(err, &re) || re.Text != "server: 0#secret: no such worker reachable from your link" {
		t.Fatalf("request to a worker not allowed: %v, want a *RefusedError", err)
	}
	// The refusal notice leaves inside the delivery that the transport
	// counts once it returns: the count may come a moment after it.
	deadline := time.Now().Add(wait)
	for str.Stats().Denied != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("server transport stats %+v, want Denied 1", str.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	if got, _ := nodetest.Request(t, a, "3#"+path+" => echoer", "hi", wait); got != "hi" {
		t.Fatalf("reply %q", got)
	}
}

// One node with both transports: a message comes in over its Unix
// socket and its forwarder sends it on over TCP to another node; the
// reply comes back the same way.
func TestUnixInTCPOn(t *testing.T) {
	responder := nodetest.NewNode(t, engine.Config{Name: "responder", Loops: 2})
	rtr, err := tcp.New(responder, tcp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := responder.StartWorker(engine.Echo{}, wire.LocalAddr("echoer")); err != nil {
		t.Fatal(err)
	}
	rl, err := rtr.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := responder.Allow(rl.Flow(), wire.LocalAddr("echoer")); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "m.sock")
	middle, mux := newNode(t, engine.Config{Name: "middle"})
	mtcp, err := tcp.New(middle, tcp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := middle.StartWorker(engine.Forwarder{Route: wire.MustParseRoute(rl.Addr().String() + " => echoer")}, wire.LocalAddr("fwd")); err != nil {
		t.Fatal(err)
	}
	listen(t, middle, mux, path, "fwd")

	client, _ := newNode(t, engine.Config{Name: "client"})
	a := app(t, client, "app")
	for i := 0; i < 3; i++ {
		got, ret := nodetest.Request(t, a, "3#"+path+" => fwd", "across", wait)
		if got != "across" {
			t.Fatalf("reply %q", got)
		}
		// [client's unix conn worker, middle's tcp conn worker, echoer]
		if len(ret) != 3 || ret[2] != wire.MustParseAddress("echoer") {
			t.Fatalf("return route %v", ret)
		}
	}
	if s := mux.Stats(); s.Accepted != 1 {
		t.Fatalf("middle unix stats %+v", s)
	}
	if s := mtcp.Stats(); s.Dialed != 1 {
		t.Fatalf("middle tcp stats %+v", s)
	}
	if mux.Type() != wire.Unix || mtcp.Type() != wire.TCP {
		t.Fatalf("types %v %v", mux.Type(), mtcp.Type())
	}
	// A second Unix transport on the node is refused: one per type.
	if _, err := unix.New(middle, unix.Config{}); !errors.Is(err, engine.ErrTransportInUse) {
		t.Fatalf("second unix transport: %v", err)
	}
}
