package manager

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/transports/udp"
	"github.com/hopwire/hopwire/transports/unix"
	"github.com/hopwire/hopwire/wire"
)

var leakIgnores = []goleak.Option{
	// gnet's package-level goroutine pool (ants), started by its init.
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakIgnores...) }

const wait = 10 * time.Second // generous: only a broken manager takes this long

// socketDir returns a 0700 directory short enough for a socket path.
func socketDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if len(filepath.Join(dir, "manager.sock")) > unix.MaxUnixPath {
		d, err := os.MkdirTemp("", "hwm")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	if err := os.Chmod(dir, 0o700); err != nil { // the manager wants its socket's directory private
		t.Fatal(err)
	}
	return dir
}

// testNode is a node with TCP, UDP and Unix transports and its manager.
type testNode struct {
	*engine.Node
	srv *Server
	tcp *tcp.Transport
	udp *udp.Transport
}

func newTestNode(t testing.TB, name string) *testNode {
	t.Helper()
	node, err := engine.NewNode(engine.Config{Name: name, Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{Node: node}
	if tn.tcp, err = tcp.New(node, tcp.Config{EventLoops: 1}); err != nil {
		t.Fatal(err)
	}
	if tn.udp, err = udp.New(node, udp.Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.New(node, unix.Config{EventLoops: 1}); err != nil {
		t.Fatal(err)
	}
	tn.srv, err = Serve(node, Config{
		Socket:  filepath.Join(socketDir(t), "manager.sock"),
		Started: time.Now(),
		Counters: func() map[string]map[string]uint64 {
			return map[string]map[string]uint64{"tcp": {"accepted": tn.tcp.Stats().Accepted}}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tn.srv.Close()
		node.Close()
	})
	return tn
}

func dial(t testing.TB, tn *testNode) *Client {
	t.Helper()
	c, err := Dial(tn.srv.Socket(), wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wantCode checks that err is an *Error with code and text containing want.
func wantCode(t *testing.T, err error, code Code, want string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want an *Error with code %v", err, err, code)
	}
	if e.Code != code || !strings.Contains(e.Text, want) {
		t.Fatalf("err = %v (code %v), want code %v and %q", e, e.Code, code, want)
	}
	if strings.ContainsAny(e.Text, "\r\n") {
		t.Fatalf("error text is not one line: %q", e.Text)
	}
}

func TestServices(t *testing.T) {
	tn := newTestNode(t, "n1")
	c := dial(t, tn)
	for _, s := range [][2]string{{"echo", "echoer"}, {"hop", "h"}, {"uppercase", "up"}} {
		if err := c.StartService(s[0], s[1]); err != nil {
			t.Fatal(err)
		}
	}
	list, err := c.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	want := []ServiceInfo{{"echoer", "echo"}, {"h", "hop"}, {"up", "uppercase"}}
	if len(list) != 3 || list[0] != want[0] || list[1] != want[1] || list[2] != want[2] {
		t.Fatalf("services = %v, want %v", list, want)
	}
	reply, err := c.SendMessage("h => up", []byte("shout"), wait)
	if err != nil || string(reply) != "SHOUT" {
		t.Fatalf("reply = %q, %v", reply, err)
	}

	wantCode(t, c.StartService("echo", "echoer"), CodeExists, `service "echoer" already exists on node n1`)
	wantCode(t, c.StartService("teapot", "x"), CodeBadRequest, "echo, hop or uppercase")
	wantCode(t, c.StartService("echo", "_manager"), CodeBadRequest, "the node's own")
	wantCode(t, c.StartService("echo", ""), CodeBadRequest, "needs a name")
	wantCode(t, c.StopService("nobody"), CodeNotFound, `no service "nobody"`)

	if err := c.StopService("up"); err != nil {
		t.Fatal(err)
	}
	_, err = c.SendMessage("up", []byte("x"), 200*time.Millisecond)
	wantCode(t, err, CodeFailed, "up")
	// In process, the same path.
	wantCode(t, tn.srv.StartService("hop", "h"), CodeExists, "already exists")
	if err := tn.srv.StartService("echo", "e2"); err != nil {
		t.Fatal(err)
	}
}

func TestListeners(t *testing.T) {
	tn := newTestNode(t, "n1")
	c := dial(t, tn)
	l, err := c.CreateListener("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if l.Type != "tcp" || !strings.HasPrefix(l.Addr, "127.0.0.1:") || l.Addr == "127.0.0.1:0" || l.Flow == 0 {
		t.Fatalf("listener = %+v", l)
	}
	u, err := tn.srv.Listen("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateListener("tcp", l.Addr)
	wantCode(t, err, CodeFailed, "address already in use")
	_, err = c.CreateListener("sctp", "127.0.0.1:0")
	wantCode(t, err, CodeBadRequest, "use tcp or udp")

	all, err := c.ListListeners("")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].Type != "unix" || all[0].Addr != tn.srv.Socket() {
		t.Fatalf("listeners = %+v", all)
	}
	tcps, err := c.ListListeners("tcp")
	if err != nil || len(tcps) != 1 || tcps[0] != l {
		t.Fatalf("tcp listeners = %+v, %v (want %+v)", tcps, err, l)
	}

	// A service started before reaches every listener, a new one too.
	if err := c.StartService("echo", "echoer"); err != nil {
		t.Fatal(err)
	}
	peer := newPeer(t)
	for _, to := range []string{"1#" + l.Addr, "2#" + u.Addr} {
		r, err := peer.app.Request(wire.MustParseRoute(to+" => echoer"), []byte("hi"), wait)
		if err != nil {
			t.Fatalf("%s: %v", to, err)
		}
		r.Release()
	}

	wantCode(t, c.DeleteListener("", tn.srv.Socket()), CodeBadRequest, "own listener")
	wantCode(t, c.DeleteListener("", "127.0.0.1:1"), CodeNotFound, "no listener")
	if err := c.DeleteListener("", l.Addr); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.DeleteListener("tcp", l.Addr), CodeNotFound, "no listener")
	if err := c.DeleteListener("udp", "2#"+u.Addr); err != nil {
		t.Fatal(err)
	}
	if all, _ := c.ListListeners(""); len(all) != 1 {
		t.Fatalf("after deleting, listeners = %+v", all)
	}
}

// peer is a second node, with TCP and UDP, to reach a node from the network.
type peer struct {
	node *engine.Node
	app  *engine.App
}

func newPeer(t testing.TB) *peer {
	t.Helper()
	node, err := engine.NewNode(engine.Config{Name: "peer", Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	if _, err := tcp.New(node, tcp.Config{EventLoops: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := udp.New(node, udp.Config{}); err != nil {
		t.Fatal(err)
	}
	app, err := node.NewContext(wire.LocalAddr("app"))
	if err != nil {
		t.Fatal(err)
	}
	return &peer{node, app}
}

func TestConnections(t *testing.T) {
	tn := newTestNode(t, "n1")
	other := newTestNode(t, "n2")
	if err := other.srv.StartService("echo", "echoer"); err != nil {
		t.Fatal(err)
	}
	ol, err := other.srv.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, tn)
	conn, err := c.CreateConnection("tcp", ol.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(conn.Addr, "0#") || len(conn.Addr) != 2+32 || !conn.Dialed || conn.Type != "tcp" {
		t.Fatalf("connection = %+v", conn)
	}
	reply, err := c.SendMessage(conn.Addr+" => echoer", []byte("over it"), wait)
	if err != nil || string(reply) != "over it" {
		t.Fatalf("reply = %q, %v", reply, err)
	}
	list, err := c.ListConnections()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Addr != conn.Addr || !list[0].Dialed || list[0].Type != "tcp" {
		t.Fatalf("connections = %+v (the manager's own client must not be listed)", list)
	}
	info, err := c.NodeShow()
	if err != nil || len(info.Connections) != 1 {
		t.Fatalf("node.show connections = %+v, %v", info.Connections, err)
	}

	_, err = c.CreateConnection("tcp", "127.0.0.1:1")
	wantCode(t, err, CodeFailed, "127.0.0.1:1")
	_, err = c.CreateConnection("carrier-pigeon", "x")
	wantCode(t, err, CodeBadRequest, "use tcp or udp")
	wantCode(t, c.DeleteConnection("0#"+strings.Repeat("0", 32)), CodeNotFound, "no connection")
	if err := c.DeleteConnection(conn.Addr); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.DeleteConnection(conn.Addr), CodeNotFound, "no connection")
	deadline := time.Now().Add(wait)
	for list, _ := c.ListConnections(); len(list) != 0; list, _ = c.ListConnections() {
		if time.Now().After(deadline) {
			t.Fatalf("connections after delete = %+v", list)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNodeShow(t *testing.T) {
	tn := newTestNode(t, "shown")
	c := dial(t, tn)
	if err := c.StartService("echo", "echoer"); err != nil {
		t.Fatal(err)
	}
	info, err := c.NodeShow()
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "shown" || info.PID != os.Getpid() || time.Since(info.Started) > time.Minute ||
		len(info.Listeners) != 1 || info.Listeners[0].Type != "unix" ||
		len(info.Services) != 1 || info.Services[0].Name != "echoer" {
		t.Fatalf("node.show = %+v", info)
	}
	for _, g := range []string{"engine", "manager", "tcp"} {
		if info.Counters[g] == nil {
			t.Fatalf("no %q counters in %v", g, info.Counters)
		}
	}
	if info.Counters["manager"]["requests"] < 2 {
		t.Fatalf("manager counters = %v", info.Counters["manager"])
	}
}

func TestMessageSend(t *testing.T) {
	tn := newTestNode(t, "n1")
	c := dial(t, tn)
	if err := c.StartService("echo", "echoer"); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), MaxRequest-100)
	reply, err := c.SendMessage("echoer", big, wait)
	if err != nil || !bytes.Equal(reply, big) {
		t.Fatalf("big echo: %d bytes, %v", len(reply), err)
	}
	_, err = c.SendMessage("echoer", make([]byte, MaxRequest), wait)
	wantCode(t, err, CodeBadRequest, "over the node manager's limit")
	// A worker that never answers.
	tn.StartWorker(engine.WorkerFunc(func(*engine.Context, *wire.Message) error { return nil }), wire.LocalAddr("void"))
	_, err = c.SendMessage("void", []byte("anyone?"), 100*time.Millisecond)
	wantCode(t, err, CodeFailed, "no reply from 0#void within 100ms")
	_, err = c.SendMessage("a => => b", nil, 0)
	wantCode(t, err, CodeBadRequest, "bad route")
	_, err = c.SendMessage("echoer", nil, time.Hour)
	wantCode(t, err, CodeBadRequest, "over the limit")
	// The client is still good for the next request after a failed one.
	if reply, err := c.SendMessage("echoer", []byte("again"), wait); err != nil || string(reply) != "again" {
		t.Fatalf("reply = %q, %v", reply, err)
	}
}

// TestProtocolErrors sends requests the typed methods would not.
func TestProtocolErrors(t *testing.T) {
	tn := newTestNode(t, "n1")
	c := dial(t, tn)
	raw := func(p []byte) response {
		t.Helper()
		resp, err := c.roundTrip(p, wait)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Version != Version {
			t.Fatalf("response version %d", resp.Version)
		}
		return resp
	}
	check := func(name string, p []byte, code Code, want string) {
		t.Helper()
		resp := raw(p)
		if resp.Code != code || !strings.Contains(resp.Error, want) {
			t.Fatalf("%s: response %v %q, want %v %q", name, resp.Code, resp.Error, code, want)
		}
	}
	p, _ := encodeRequest("node.reboot", nil)
	check("unknown op", p, CodeUnknownOp, `unknown op "node.reboot"`)
	p, _ = encMode.Marshal(request{Version: 2, Op: OpNodeShow})
	check("version", p, CodeVersion, "speaks protocol version 1, the request is version 2")
	p, _ = encMode.Marshal(request{Op: OpNodeShow})
	check("no version", p, CodeBadRequest, "no protocol version")
	check("garbage", []byte("\xff\x00garbage"), CodeBadRequest, "bad request")
	check("empty", nil, CodeBadRequest, "bad request")
	check("oversized", make([]byte, MaxRequest+1), CodeBadRequest, "over the node manager's limit")
	p, _ = encodeRequest(OpServiceStart, []int{1, 2})
	check("bad args", p, CodeBadRequest, "bad arguments for service.start")
	// Duplicate keys: {1: 1, 1: 1, 2: "node.show"}.
	check("dup key", []byte("\xa3\x01\x01\x01\x01\x02\x69node.show"), CodeBadRequest, "bad request")
	// Unknown keys are ignored: a later version may add some.
	check("extra key", []byte("\xa3\x01\x01\x02\x69node.show\x18\x63\x00"), CodeOK, "")
	// The manager still answers a good request.
	if _, err := c.NodeShow(); err != nil {
		t.Fatal(err)
	}
}

// TestNotFromTheNetwork: the manager is reachable over its socket only,
// not over a TCP listener of the same node nor through a public hop.
func TestNotFromTheNetwork(t *testing.T) {
	tn := newTestNode(t, "n1")
	l, err := tn.srv.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u, err := tn.srv.Listen("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.srv.StartService("hop", "hop"); err != nil {
		t.Fatal(err)
	}
	if err := tn.srv.StartService("echo", "echoer"); err != nil {
		t.Fatal(err)
	}
	peer := newPeer(t)
	req, _ := encodeRequest(OpServiceStart, serviceArgs{Kind: "echo", Name: "pwned"})
	// The same path works for a public service, so the routes are right.
	for _, to := range []string{"1#" + l.Addr + " => hop => echoer", "2#" + u.Addr + " => echoer"} {
		r, err := peer.app.Request(wire.MustParseRoute(to), []byte("hi"), wait)
		if err != nil {
			t.Fatalf("%s: %v", to, err)
		}
		r.Release()
	}
	for _, to := range []string{
		"1#" + l.Addr + " => _manager",
		"1#" + l.Addr + " => hop => _manager",
		"2#" + u.Addr + " => _manager",
		"2#" + u.Addr + " => hop => hop => _manager",
		// A hop may not bridge onto the socket either (no AllowDial).
		"1#" + l.Addr + " => hop => 3#" + tn.srv.Socket() + " => _manager",
	} {
		denied := tn.Stats().Denied
		r, err := peer.app.Request(wire.MustParseRoute(to), req, 300*time.Millisecond)
		if err == nil {
			r.Release()
			t.Fatalf("%s: the manager answered", to)
		}
		// Refused (a notice from the node: engine.RefusedError) or, where
		// the notice may not go back (the hop's dial), a timeout.
		if !errors.Is(err, engine.ErrDenied) && !errors.Is(err, engine.ErrTimeout) {
			t.Fatalf("%s: %v, want a refusal or a timeout", to, err)
		}
		// A timeout may come before the node has handled the message
		// (a loaded machine): wait for the count.
		deadline := time.Now().Add(wait)
		for tn.Stats().Denied <= denied {
			if time.Now().After(deadline) {
				t.Fatalf("%s: Stats.Denied did not go up (%d)", to, denied)
			}
			time.Sleep(time.Millisecond)
		}
	}
	c := dial(t, tn)
	list, err := c.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Name == "pwned" {
			t.Fatal("a request from the network started a service")
		}
	}
	// Defense in depth: a message that reached the manager's context by
	// another way (a local one here) is dropped and counted.
	app, _ := tn.NewContext(wire.LocalAddr("local"))
	defer app.Close()
	if r, err := app.Request(wire.Route{Addr}, req, 200*time.Millisecond); err == nil {
		r.Release()
		t.Fatal("the manager answered a local message")
	}
	info, err := c.NodeShow()
	if err != nil {
		t.Fatal(err)
	}
	if info.Counters["manager"]["foreign"] != 1 {
		t.Fatalf("manager counters = %v, want foreign 1", info.Counters["manager"])
	}
}

// TestStuckClients: a client that leaves a frame half sent and never
// reads, and a crowd of message.sends to a route that never answers,
// do not hold up another client's node.show.
func TestStuckClients(t *testing.T) {
	tn := newTestNode(t, "n1")
	tn.srv.maxSend = 5 * time.Second
	tn.StartWorker(engine.WorkerFunc(func(*engine.Context, *wire.Message) error { return nil }), wire.LocalAddr("void"))

	raw, err := net.Dial("unix", tn.srv.Socket())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Write([]byte{0, 0, 0x10, 0, 'h', 'w'}); err != nil { // half a frame
		t.Fatal(err)
	}

	const crowd = 40
	var wg sync.WaitGroup
	errs := make(chan error, crowd)
	for range crowd {
		c := dial(t, tn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.SendMessage("void", []byte("hello?"), 2*time.Second)
			errs <- err
		}()
	}
	// Wait until the slow budget is full, then ask.
	deadline := time.Now().Add(wait)
	for len(tn.srv.slow) < MaxInFlight && tn.srv.stats.busy.Load()+uint64(len(tn.srv.slow)) < crowd {
		if time.Now().After(deadline) {
			t.Fatalf("only %d slow requests in flight", len(tn.srv.slow))
		}
		time.Sleep(5 * time.Millisecond)
	}
	c := dial(t, tn)
	if _, err := c.NodeShow(); err != nil {
		t.Fatalf("node.show with stuck clients: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		var e *Error
		if !errors.As(err, &e) || !(e.Code == CodeBusy || e.Code == CodeFailed && strings.Contains(e.Text, "no reply")) {
			t.Fatalf("a slow send: %v", err)
		}
	}
}

func TestDialNobody(t *testing.T) {
	sock := filepath.Join(socketDir(t), "nobody.sock")
	_, err := Dial(sock, time.Second)
	if err == nil || !strings.Contains(err.Error(), "node manager at "+sock+" is not answering") {
		t.Fatalf("err = %v", err)
	}
}

func TestServeErrors(t *testing.T) {
	node, err := engine.NewNode(engine.Config{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	dir := socketDir(t)
	if _, err := Serve(node, Config{Socket: filepath.Join(dir, "m.sock")}); !errors.Is(err, ErrNoUnix) {
		t.Fatalf("without a Unix transport: %v", err)
	}
	if _, err := unix.New(node, unix.Config{EventLoops: 1}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Serve(node, Config{Socket: filepath.Join(dir, "m.sock")}); !errors.Is(err, ErrOpenDir) {
		t.Fatalf("in a 0755 directory: %v", err)
	}
	os.Chmod(dir, 0o700)
	s, err := Serve(node, Config{Socket: filepath.Join(dir, "m.sock")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Serve(node, Config{Socket: filepath.Join(dir, "m2.sock")}); err == nil {
		t.Fatal("a second manager on one node")
	}
}

// TestClose: Close ends the manager's goroutines, wakes a message.send
// waiting for its reply, and leaves the node running.
func TestClose(t *testing.T) {
	node, err := engine.NewNode(engine.Config{Name: "n1", Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.New(node, unix.Config{EventLoops: 1}); err != nil {
		t.Fatal(err)
	}
	s, err := Serve(node, Config{Socket: filepath.Join(socketDir(t), "m.sock")})
	if err != nil {
		t.Fatal(err)
	}
	node.StartWorker(engine.WorkerFunc(func(*engine.Context, *wire.Message) error { return nil }), wire.LocalAddr("void"))
	c, err := Dial(s.Socket(), wait)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartService("echo", "echoer"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.SendMessage("void", nil, 50*time.Second)
		done <- err
	}()
	for len(s.slow) == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	s.Close()
	s.Close()
	if d := time.Since(start); d > closeWait {
		t.Fatalf("Close took %v", d)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "shutting down") && !strings.Contains(err.Error(), "connection closed") {
		t.Fatalf("a send in flight at Close: %v", err)
	}
	if _, err := os.Stat(s.Socket()); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
	// The node and what the manager started are still there.
	app, _ := node.NewContext(wire.LocalAddr("app"))
	if r, err := app.Request(wire.MustParseRoute("echoer"), []byte("x"), wait); err != nil {
		t.Fatal(err)
	} else {
		r.Release()
	}
	c.Close()
	node.Close()
	goleak.VerifyNone(t, append(leakIgnores, goleak.IgnoreCurrent())...)
}
