package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hopwire/hopwire/cmd/internal/home"
	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/wire"
)

// The CLI end to end: the real binary, built once, run as a user would in
// a state directory of the test's own. Every node a test creates is
// deleted at cleanup, and the test checks no process of its survives.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// hopwireBin builds the hopwire binary once per test run, or returns the
// one HOPWIRE_BIN names (how benchmarks measure an old build beside a new
// one, interleaved).
func hopwireBin(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("HOPWIRE_BIN"); bin != "" {
		return bin
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hopwire-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "hopwire")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = &buildError{string(out), err}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.out }

// cli runs the binary in one state directory.
type cli struct {
	t    testing.TB
	bin  string
	home string
}

// newCLI makes a state directory (short, for the sockets in it) and
// deletes every node in it at cleanup, checking none survives.
func newCLI(t testing.TB) *cli {
	t.Helper()
	dir, err := os.MkdirTemp("", "hw")
	if err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, bin: hopwireBin(t), home: dir}
	t.Cleanup(func() {
		pids := c.pids()
		c.run("node", "delete", "--all", "--yes")
		for _, pid := range pids {
			if home.Alive(pid) {
				t.Errorf("node process %d survived node delete --all", pid)
			}
		}
		os.RemoveAll(dir)
	})
	return c
}

// pids are the node processes the state directory knows of.
func (c *cli) pids() []int {
	h := home.Home{Dir: c.home}
	names, _ := h.Nodes()
	var pids []int
	for _, n := range names {
		if _, s, err := h.Status(n); err == nil && s.PID > 0 {
			pids = append(pids, s.PID)
		}
	}
	return pids
}

type result struct {
	stdout, stderr string
	code           int
}

func (c *cli) run(args ...string) result {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(os.Environ(), home.Env+"="+c.home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("hopwire %s: %v", strings.Join(args, " "), err)
	}
	return result{out.String(), errb.String(), code}
}

// ok runs a command that must succeed and returns its standard output.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("hopwire %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails runs a command that must fail with code and one line on stderr
// that contains want.
func (c *cli) fails(code int, want string, args ...string) {
	c.t.Helper()
	r := c.run(args...)
	if r.code != code || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		c.t.Fatalf("hopwire %s: exit %d, stderr %q; want exit %d and one line containing %q", strings.Join(args, " "), r.code, r.stderr, code, want)
	}
}

// The seed's walk-through, verbatim.
func TestWalkThrough(t *testing.T) {
	c := newCLI(t)
	if out := c.ok("node", "create", "n1"); !strings.HasPrefix(out, "Node n1 created") {
		t.Fatalf("node create: %q", out)
	}
	steps := []struct{ args, want string }{
		{"message send hello --to /node/n1/service/echo", "hello\n"},
		{"service start hop --at n1", ""},
		{"message send hello --to /node/n1/service/hop/service/echo", "hello\n"},
		{"message send hello --to /node/n1/service/hop/service/hop/service/echo", "hello\n"},
		{"message send hello --to /node/n1/service/uppercase", "HELLO\n"},
	}
	for _, s := range steps {
		out := c.ok(strings.Fields(s.args)...)
		if s.want != "" && out != s.want {
			t.Fatalf("hopwire %s: %q, want %q", s.args, out, s.want)
		}
	}
	pids := c.pids()
	if len(pids) != 1 {
		t.Fatalf("pids %v", pids)
	}
	c.ok("node", "delete", "--all", "--yes")
	if home.Alive(pids[0]) {
		t.Fatalf("node process %d survived node delete --all", pids[0])
	}
	if out := c.ok("node", "list"); !strings.Contains(out, "No nodes") {
		t.Fatalf("node list after delete: %q", out)
	}
}

// The seed's UDP to TCP bridge from the CLI: n2 takes UDP and has a TCP
// connection to n3; a message along UDP, n2's hop and that connection
// reaches n3's echo and comes back.
func TestUDPToTCPBridge(t *testing.T) {
	c := newCLI(t)
	c.ok("node", "create", "n3")
	c.ok("node", "create", "n2", "--udp-listener-address", "127.0.0.1:0")
	c.ok("service", "start", "hop", "--at", "n2")
	worker := strings.TrimSpace(c.ok("tcp-connection", "create", "--from", "n2", "--to", "/node/n3"))
	if !regexp.MustCompile(`^/worker/[0-9a-f]{32}$`).MatchString(worker) {
		t.Fatalf("tcp-connection create printed %q", worker)
	}
	n2 := c.node(t, "n2")
	if n2.UDP == "" {
		t.Fatalf("n2 has no UDP listener: %+v", n2)
	}
	to := "/ip4/127.0.0.1/udp/" + port(n2.UDP) + "/service/hop" + worker + "/service/echo"
	if out := c.ok("message", "send", "over the bridge", "--to", to); out != "over the bridge\n" {
		t.Fatalf("bridge: %q", out)
	}
	if out := c.ok("message", "send", "from n2", "--from", "n2", "--to", worker+"/service/uppercase"); out != "FROM N2\n" {
		t.Fatalf("--from n2: %q", out)
	}
}

// seedShape creates the seed's relay shape: n2, n3 registered at n2 as
// relay n3 (n3 needs no listener for it), and n1.
func (c *cli) seedShape() {
	c.t.Helper()
	c.ok("node", "create", "n2")
	c.ok("node", "create", "n3")
	c.ok("relay", "create", "n3", "--at", "/node/n2", "--to", "/node/n3")
	c.ok("node", "create", "n1")
}

// node is what node list says of name.
func (c *cli) node(t *testing.T, name string) nodeInfo {
	t.Helper()
	for _, in := range listNodes(t, c) {
		if in.Name == name {
			return in
		}
	}
	t.Fatalf("no node %s in node list", name)
	return nodeInfo{}
}

func listNodes(t *testing.T, c *cli) []nodeInfo {
	var infos []nodeInfo
	mustJSON(t, c.ok("node", "list", "--output", "json"), &infos)
	return infos
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
}

func port(hostport string) string { return hostport[strings.LastIndexByte(hostport, ':')+1:] }

// The errors a user will meet: one line, a non-zero exit, nothing left.
func TestCLIErrors(t *testing.T) {
	c := newCLI(t)
	c.ok("node", "create", "n1")
	c.fails(1, "node n1 already exists", "node", "create", "n1")
	c.fails(2, `bad node name "bad name!"`, "node", "create", "bad name!")
	c.fails(1, `bad address "/ip4/1.2.3/tcp/4": "1.2.3" is not an IPv4 address`, "message", "send", "x", "--to", "/ip4/1.2.3/tcp/4")
	c.fails(1, `cannot resolve node "nope": no such node`, "message", "send", "x", "--to", "/node/nope/service/echo")
	c.fails(2, "unknown command", "frobnicate")
	c.fails(2, "unknown command", "node", "frobnicate")
	c.fails(2, "unknown flag", "node", "list", "--frob")
	c.ok("service", "start", "hop", "--at", "n1")
	c.fails(1, `service "hop" already exists`, "service", "start", "hop", "--at", "n1")

	// A port in use: n2 asks for n1's.
	n1 := c.node(t, "n1")
	r := c.run("node", "create", "n2", "--tcp-listener-address", n1.TCP)
	if r.code != 1 || !strings.Contains(r.stderr, "address already in use") {
		t.Fatalf("port in use: %+v", r)
	}
	if (home.Home{Dir: c.home}).Exists("n2") {
		t.Fatal("a node that failed to start left its state behind")
	}

	// A timeout names the address that did not answer: n1's TCP
	// listener, through a hop, to a node that swallows messages.
	silent := silentListener(t)
	c2 := "/ip4/127.0.0.1/tcp/" + port(silent) + "/service/echo"
	c.fails(1, "no reply from "+c2+" within 300ms", "message", "send", "x", "--to", c2, "--timeout", "300ms")

	// A stale pid: the node's process killed behind the CLI's back.
	c.ok("node", "create", "n3")
	_, s, _ := (home.Home{Dir: c.home}).Status("n3")
	p, _ := os.FindProcess(s.PID)
	p.Kill()
	waitGone(s.PID, 5*time.Second)
	c.fails(1, "node n3 is not running: its process", "node", "show", "n3")

	// $HOPWIRE_HOME not writable.
	ro := filepath.Join(c.home, "ro")
	os.Mkdir(ro, 0o500)
	cmd := exec.Command(c.bin, "node", "list")
	cmd.Env = append(os.Environ(), home.Env+"="+filepath.Join(ro, "sub"))
	out, err := cmd.CombinedOutput()
	if os.Getuid() != 0 && (err == nil || !strings.Contains(string(out), "is not writable")) {
		t.Fatalf("unwritable home: %v %s", err, out)
	}
}

// silentListener is a node on 127.0.0.1 whose echo never answers (its
// worker drops everything), for timeouts.
func silentListener(t *testing.T) string {
	n, err := engine.NewNode(engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	tr, err := tcp.New(n, tcp.Config{EventLoops: 1})
	if err != nil {
		t.Fatal(err)
	}
	n.StartWorker(engine.WorkerFunc(func(*engine.Context, *wire.Message) error { return nil }), wire.LocalAddr("echo"))
	l, err := tr.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.Allow(l.Flow(), wire.LocalAddr("echo"))
	return l.Addr().Value()
}

// The node manager answers its owner over its socket only: a message from
// the TCP listener, straight or through the public hop, is denied (and
// counted), never handled.
func TestManagerOnlyForOwner(t *testing.T) {
	c := newCLI(t)
	c.ok("node", "create", "n1")
	c.ok("service", "start", "hop", "--at", "n1")
	n1 := listNodes(t, c)[0]

	client, err := engine.NewNode(engine.Config{Name: "stranger"})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := tcp.New(client, tcp.Config{EventLoops: 1}); err != nil {
		t.Fatal(err)
	}
	app, err := client.NewContext(wire.LocalAddr("app"))
	if err != nil {
		t.Fatal(err)
	}
	before := managerRequests(t, c)
	for _, r := range []string{"1#" + n1.TCP + " => _manager", "1#" + n1.TCP + " => hop => _manager"} {
		reply, err := app.Request(wire.MustParseRoute(r), []byte("node.show, please"), 300*time.Millisecond)
		if err == nil {
			reply.Release()
			t.Fatalf("%s answered", r)
		}
	}
	var show struct {
		Counters map[string]map[string]uint64 `json:"counters"`
	}
	mustJSON(t, c.ok("node", "show", "n1", "--output", "json"), &show)
	if d := show.Counters["engine"]["denied"]; d < 2 {
		t.Fatalf("engine Denied = %d after two attempts on the manager from the network", d)
	}
	if n := show.Counters["engine"]["notices_sent"]; n < 1 {
		t.Fatalf("engine notices_sent = %d: the stranger was not told", n)
	}
	// node show itself is one request more; the strangers' are none.
	if got := show.Counters["manager"]["requests"]; got != before+1 {
		t.Fatalf("manager requests %d, want %d: the network reached it", got, before+1)
	}
}

func managerRequests(t *testing.T, c *cli) uint64 {
	var show struct {
		Counters map[string]map[string]uint64 `json:"counters"`
	}
	mustJSON(t, c.ok("node", "show", "n1", "--output", "json"), &show)
	return show.Counters["manager"]["requests"]
}

// stop keeps a node's configuration and ports; start brings it back on
// them; logs shows what it logged; a stopped node says so.
func TestStopStartLogs(t *testing.T) {
	c := newCLI(t)
	c.ok("node", "create", "n1")
	first := listNodes(t, c)[0]
	if out := c.ok("node", "stop", "n1"); !strings.Contains(out, "Node n1 stopped") {
		t.Fatalf("stop: %q", out)
	}
	if home.Alive(first.PID) {
		t.Fatalf("process %d alive after node stop", first.PID)
	}
	if st := listNodes(t, c)[0]; st.Status != "stopped" {
		t.Fatalf("after stop: %+v", st)
	}
	c.fails(1, `cannot resolve node "n1": it is not running`, "message", "send", "x", "--to", "/node/n1/service/echo")
	c.ok("node", "start", "n1")
	again := listNodes(t, c)[0]
	if again.TCP != first.TCP || again.Status != "running" {
		t.Fatalf("start: %+v, want running on %s", again, first.TCP)
	}
	if out := c.ok("message", "send", "back", "--to", "/node/n1/service/echo"); out != "back\n" {
		t.Fatalf("after start: %q", out)
	}
	if out := c.ok("node", "logs", "n1"); !strings.Contains(out, "node ready") || !strings.Contains(out, "stopping") {
		t.Fatalf("logs lack the node's lines:\n%s", out)
	}
	if out := c.ok("--version"); !strings.Contains(out, "hopwire version") {
		t.Fatalf("--version: %q", out)
	}
	for _, cmd := range [][]string{{"node", "create", "--help"}, {"message", "send", "--help"}, {"tcp-connection", "create", "--help"}} {
		if out := c.ok(cmd...); !strings.Contains(out, "Examples:") {
			t.Fatalf("%v has no example:\n%s", cmd, out)
		}
	}
}

// One address crosses two transport hops: the middle node dials the
// second only if --allow-dial lets remote traffic make it, and a refusal
// is an error at the sender, not a silent drop.
func TestSecondTransportHop(t *testing.T) {
	c := newCLI(t)
	c.ok("node", "create", "far")
	c.ok("node", "create", "closed")
	c.ok("node", "create", "open", "--allow-dial", "127.0.0.0/8")
	for _, n := range []string{"closed", "open"} {
		c.ok("service", "start", "hop", "--at", n)
	}
	far := c.node(t, "far").TCP
	tail := "/service/hop/ip4/127.0.0.1/tcp/" + port(far) + "/service/echo"
	if out := c.ok("message", "send", "two hops", "--to", "/node/open"+tail); out != "two hops\n" {
		t.Fatalf("through the open node: %q", out)
	}
	c.fails(1, "hop may not dial 1#"+far, "message", "send", "two hops", "--to", "/node/closed"+tail)
}

// Two `node create` of one name at once: one wins, the other says the
// name is taken, and the winner is left running.
func TestConcurrentCreate(t *testing.T) {
	c := newCLI(t)
	results := make(chan result, 2)
	for range 2 {
		go func() { results <- c.run("node", "create", "n1") }()
	}
	a, b := <-results, <-results
	if a.code+b.code != 1 {
		t.Fatalf("exit codes %d and %d, want one success: %+v %+v", a.code, b.code, a, b)
	}
	if !strings.Contains(a.stderr+b.stderr, "node n1 already exists") {
		t.Fatalf("loser said %q %q", a.stderr, b.stderr)
	}
	if out := c.ok("message", "send", "still here", "--to", "/node/n1/service/echo"); out != "still here\n" {
		t.Fatalf("winner: %q", out)
	}
}

// The seed's relay walk-through: n3 registers at n2, n1 reaches n3's
// services through n2; n2 restarts and the relay comes back by itself.
func TestRelayWalkThrough(t *testing.T) {
	c := newCLI(t)
	c.ok("node", "create", "n2")
	c.ok("node", "create", "n3")
	c.ok("service", "start", "hop", "--at", "n3")
	if out := c.ok("relay", "create", "n3", "--at", "/node/n2", "--to", "/node/n3"); out != "/node/n2/service/forward_to_n3\n" {
		t.Fatalf("relay create printed %q", out)
	}
	c.ok("node", "create", "n1")
	n2 := c.node(t, "n2")
	w := strings.TrimSpace(c.ok("tcp-connection", "create", "--from", "n1", "--to", n2.TCP))
	for _, to := range []string{w + "/service/forward_to_n3/service/uppercase", w + "/service/forward_to_n3/service/hop/service/uppercase"} {
		if out := c.ok("message", "send", "hello", "--from", "n1", "--to", to); out != "HELLO\n" {
			t.Fatalf("%s: %q", to, out)
		}
	}
	// n1's side cannot reach n3's manager through the relay.
	r := c.run("message", "send", "x", "--from", "n1", "--to", w+"/service/forward_to_n3/service/_manager", "--timeout", "500ms")
	if r.code == 0 {
		t.Fatalf("the relay reached n3's manager: %+v", r)
	}

	// The relay node restarts on its port: the relay registers again by
	// itself, and a new connection from the CLI reaches n3 again.
	c.ok("node", "stop", "n2")
	c.ok("node", "start", "n2")
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := c.run("message", "send", "again", "--to", "/node/n2/service/forward_to_n3/service/uppercase", "--timeout", "1s")
		if r.code == 0 && r.stdout == "AGAIN\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the relay did not come back after n2 restarted: %+v\n%s", r, c.ok("relay", "list", "--at", "n3"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The seed's portal walk-through: an HTTP server behind an outlet on n3,
// which listens nowhere for this; an inlet on n1 reaches it through the
// relay on n2, with and without n3's hop; a target that is down closes
// the client's connection at once.
func TestPortalWalkThrough(t *testing.T) {
	c := newCLI(t)
	body := strings.Repeat("portal ", 20000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write([]byte(body))
		w.Write(b)
	}))
	defer srv.Close()

	c.ok("node", "create", "n2")
	c.ok("node", "create", "n3")
	c.ok("service", "start", "hop", "--at", "n3")
	c.ok("relay", "create", "n3", "--at", "/node/n2", "--to", "/node/n3")
	c.ok("node", "create", "n1")
	n2 := c.node(t, "n2")
	w := strings.TrimSpace(c.ok("tcp-connection", "create", "--from", "n1", "--to", n2.TCP))
	c.ok("tcp-outlet", "create", "--at", "n3", "--from", "/service/outlet", "--to", strings.TrimPrefix(srv.URL, "http://"))
	for _, to := range []string{w + "/service/forward_to_n3/service/hop/service/outlet", w + "/service/forward_to_n3/service/outlet"} {
		listen := strings.TrimSpace(c.ok("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0", "--to", to))
		resp, err := http.Post("http://"+listen+"/", "text/plain", strings.NewReader("and back"))
		if err != nil {
			t.Fatalf("through the inlet on %s: %v", listen, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(got) != body+"and back" {
			t.Fatalf("through %s: %d bytes, err %v", to, len(got), err)
		}
	}

	// A target that is down: the client's connection closes at once.
	down := silentPort(t)
	c.ok("tcp-outlet", "create", "--at", "n3", "--from", "/service/dead", "--to", down)
	listen := strings.TrimSpace(c.ok("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0", "--to", w+"/service/forward_to_n3/service/dead"))
	conn, err := net.Dial("tcp", listen)
	if errors.Is(err, syscall.ECONNRESET) {
		return // reset before the dial returned: closed at once indeed
	}
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the inlet kept a connection to a dead target open: read %d, %v", n, err)
	}
}

// silentPort is a 127.0.0.1 port nothing listens on.
func silentPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// The relay node killed (SIGKILL) in the middle of a portal transfer: the
// transfer's connection ends, the relay comes back by itself once the
// relay node is started again, and new portal connections work.
func TestPortalAfterRelayKilled(t *testing.T) {
	c := newCLI(t)
	// A server that answers each connection with a long stream.
	stream := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	target := serveTCP(t, func(conn net.Conn) {
		for range 64 {
			if _, err := io.WriteString(conn, stream); err != nil {
				return
			}
		}
	})
	c.seedShape()
	c.ok("tcp-outlet", "create", "--at", "n3", "--to", target)
	listen := strings.TrimSpace(c.ok("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0", "--to", "/node/n2/service/forward_to_n3/service/outlet"))

	conn, err := net.Dial("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(conn, make([]byte, 1<<20)); err != nil {
		t.Fatalf("first MiB through the relay: %v", err)
	}
	_, s, _ := (home.Home{Dir: c.home}).Status("n2")
	if err := syscall.Kill(s.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, conn); err == nil && n >= 63<<20 {
		t.Fatalf("the transfer went on through a killed relay node: %d more bytes", n)
	}
	c.ok("node", "start", "n2")
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.Dial("tcp", listen)
		if err == nil {
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.ReadFull(conn, make([]byte, 1<<20))
			conn.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no portal connection through the relay after n2 came back: %v\n%s", err, c.ok("relay", "list", "--at", "n3"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// 32 clients, 3 requests of 1 MiB each, at once through the relay: the
// relay node passes the streams on with pushback (relayed traffic waits
// for room on the inlet node's connection), so nothing is dropped, no
// session resets and none hangs.
func TestPortalConcurrentThroughRelay(t *testing.T) {
	c := newCLI(t)
	body := strings.Repeat("x", 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
	defer srv.Close()
	c.seedShape()
	c.ok("tcp-outlet", "create", "--at", "n3", "--to", strings.TrimPrefix(srv.URL, "http://"))
	listen := strings.TrimSpace(c.ok("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0", "--to", "/node/n2/service/forward_to_n3/service/outlet"))
	hc := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				resp, err := hc.Get("http://" + listen + "/")
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || len(b) != len(body) {
					errs <- fmt.Errorf("%d bytes of %d: %v", len(b), len(body), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.Logf("%s\n%s", c.ok("tcp-inlet", "list", "--at", "n1"), c.ok("node", "show", "n2"))
	}
}

// 256 MiB each way at once through the relay (the seed's shape, nodes as
// processes), checked by hash at both ends.
func TestPortalBulkBothWays(t *testing.T) {
	size := int64(256 << 20)
	if testing.Short() {
		size = 16 << 20
	}
	c := newCLI(t)
	// The server hashes what it reads while it streams size bytes back.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	serverGot := make(chan string, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			pattern(conn, size, 2)
			conn.(*net.TCPConn).CloseWrite()
		}()
		h := sha256.New()
		io.Copy(h, conn)
		serverGot <- hex.EncodeToString(h.Sum(nil))
		<-wrote // not closed before its own stream is out
	}()
	c.seedShape()
	c.ok("tcp-outlet", "create", "--at", "n3", "--to", l.Addr().String())
	listen := strings.TrimSpace(c.ok("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0", "--to", "/node/n2/service/forward_to_n3/service/outlet"))

	conn, err := net.Dial("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Minute))
	sent := make(chan string, 1)
	go func() {
		sent <- pattern(conn, size, 1)
		conn.(*net.TCPConn).CloseWrite()
	}()
	h := sha256.New()
	n, err := io.Copy(h, conn)
	if err != nil || n != size {
		t.Fatalf("client read %d of %d bytes: %v", n, size, err)
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), patternHash(size, 2); got != want {
		t.Fatal("the stream from the server arrived changed")
	}
	if got, want := <-serverGot, <-sent; got != want {
		t.Fatal("the stream to the server arrived changed")
	}
}

// pattern writes size bytes of a stream seeded by seed to w and returns
// their SHA-256.
func pattern(w io.Writer, size int64, seed byte) string {
	h := sha256.New()
	buf := make([]byte, 64<<10)
	for left := size; left > 0; {
		k := min(left, int64(len(buf)))
		for i := range buf[:k] {
			buf[i] = byte(int64(i)*31+left) ^ seed
		}
		if _, err := w.Write(buf[:k]); err != nil {
			break
		}
		h.Write(buf[:k])
		left -= k
	}
	return hex.EncodeToString(h.Sum(nil))
}

func patternHash(size int64, seed byte) string { return pattern(io.Discard, size, seed) }
