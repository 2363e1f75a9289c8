package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/transports/udp"
	"github.com/hopwire/hopwire/wire"
)

// The test binary doubles as the processes the tests start: with
// HOPWIRE_TEST_PROC set it runs as `hopwire` (a node) or as a raw TCP
// relay or echo for the baselines, instead of running tests.
func TestMain(m *testing.M) {
	switch os.Getenv("HOPWIRE_TEST_PROC") {
	case "hopwire":
		os.Args = append([]string{"hopwire"}, os.Args[1:]...)
		main()
		os.Exit(0)
	case "raw-echo":
		rawEcho()
		os.Exit(0)
	case "raw-relay":
		rawRelay(os.Args[1])
		os.Exit(0)
	}
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

const wait = 10 * time.Second

// proc is a child process started by a test; it dies with the test (its
// stdin closes) or at cleanup.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *lockedWriter
	exited chan struct{} // closed when the process has exited and been waited for
	addr   string        // what it printed as its TCP address
	udp    string        // and as its UDP address, if any
}

// startProc runs the test binary as kind with args and waits for its
// ready line, which ends in the address it listens on.
func startProc(t testing.TB, kind string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, nil, kind, args...)
}

// startProcEnv is startProc with env added to the child's environment.
func startProcEnv(t testing.TB, env []string, kind string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), env...), "HOPWIRE_TEST_PROC="+kind)
	return startCmd(t, cmd, kind)
}

// startCmd starts cmd, a process that prints a ready line like the test
// binary's kinds do, and waits for that line. It stops the process at
// cleanup.
func startCmd(t testing.TB, cmd *exec.Cmd, kind string) *proc {
	t.Helper()
	args := cmd.Args[1:]
	p := &proc{cmd: cmd, stderr: &lockedWriter{w: new(bytes.Buffer)}, exited: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		io.Copy(io.Discard, out)
		// Wait closes the pipe: call it once its reads are done.
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(wait)
		if t.Failed() {
			t.Logf("%s %v stderr:\n%s", kind, args, p.stderrText())
		}
	})
	select {
	case l, ok := <-line:
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, "tcp="); ok {
				p.addr = v
			} else if v, ok := strings.CutPrefix(f, "udp="); ok {
				p.udp = v
			}
		}
		if !ok || !strings.Contains(l, " ready") {
			t.Fatalf("%s %v: no ready line (got %q); stderr:\n%s", kind, args, l, p.stderrText())
		}
	case <-time.After(wait):
		t.Fatalf("%s %v: not ready after %v; stderr:\n%s", kind, args, wait, p.stderrText())
	}
	return p
}

// stop closes the process's stdin and waits up to grace for it to exit,
// then kills it. It may be called more than once.
func (p *proc) stop(grace time.Duration) {
	p.stdin.Close()
	select {
	case <-p.exited:
		return
	case <-time.After(grace):
	}
	p.cmd.Process.Kill()
	<-p.exited
}

// stderrText is what the process has written to stderr so far.
func (p *proc) stderrText() string {
	p.stderr.mu.Lock()
	defer p.stderr.mu.Unlock()
	return p.stderr.w.(*bytes.Buffer).String()
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// seedProcesses starts the seed's responder and middle nodes as
// processes and returns the route an initiator uses.
func seedProcesses(t testing.TB, env ...string) wire.Route {
	responder := startProcEnv(t, env, "hopwire", "node", "run", "--name", "responder",
		"--tcp-listen", "127.0.0.1:0", "--echo", "echoer", "--exit-on-eof")
	middle := startProcEnv(t, env, "hopwire", "node", "run", "--name", "middle",
		"--tcp-listen", "127.0.0.1:0", "--exit-on-eof",
		"--forward", "forward_to_responder=1#"+responder.addr+" => echoer")
	return wire.MustParseRoute("1#" + middle.addr + " => forward_to_responder")
}

func initiator(t testing.TB) *engine.App {
	t.Helper()
	app, err := initiatorNode(t).NewContext(wire.LocalAddr("app"))
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// initiatorNode is the initiator's node, in the test process, with a
// TCP transport; it closes at cleanup.
func initiatorNode(t testing.TB) *engine.Node {
	t.Helper()
	n, err := engine.NewNode(engine.Config{Name: "initiator"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if _, err := tcp.New(n, tcp.Config{}); err != nil {
		t.Fatal(err)
	}
	return n
}

// The seed's three nodes, each its own OS process but the initiator:
// initiator -> TCP -> middle (forward_to_responder) -> TCP -> responder
// (echoer), and the reply back the same way.
func TestSeedThreeProcesses(t *testing.T) {
	route := seedProcesses(t)
	app := initiator(t)
	for i := 0; i < 3; i++ {
		msg := fmt.Sprintf("Hello Ockam! #%d", i)
		reply, err := app.Request(route, []byte(msg), wait)
		if err != nil {
			t.Fatal(err)
		}
		got, ret := string(reply.Payload()), reply.Return()
		reply.Release()
		if got != msg {
			t.Fatalf("reply %q, want %q", got, msg)
		}
		// Back over the initiator's connection to the middle, then the
		// middle's to the responder, to the echoer.
		if len(ret) != 3 || ret[2] != wire.MustParseAddress("echoer") {
			t.Fatalf("reply's return route [%v]", ret)
		}
	}
}

// The UDP -> TCP bridge with the nodes as processes: the initiator sends
// a datagram to the middle node, whose forwarder goes on over TCP to the
// responder; the reply comes back over TCP, then UDP. A busy-polling
// middle node answers the same.
func TestUDPToTCPProcesses(t *testing.T) {
	responder := startProc(t, "hopwire", "node", "run", "--name", "responder",
		"--tcp-listen", "127.0.0.1:0", "--echo", "echoer", "--exit-on-eof")
	n, err := engine.NewNode(engine.Config{Name: "initiator"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if _, err := udp.New(n, udp.Config{ClientAddr: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	app, err := n.NewContext(wire.LocalAddr("app"))
	if err != nil {
		t.Fatal(err)
	}
	for _, poll := range []string{"0s", "100us"} {
		middle := startProc(t, "hopwire", "node", "run", "--name", "middle",
			"--udp-bind", "127.0.0.1:0", "--udp-busy-poll", poll, "--exit-on-eof",
			"--forward", "forward_to_responder=1#"+responder.addr+" => echoer")
		if middle.udp == "" || middle.addr != "" {
			t.Fatalf("middle's ready line gave tcp=%q udp=%q", middle.addr, middle.udp)
		}
		route := wire.MustParseRoute("2#" + middle.udp + " => forward_to_responder")
		for i := 0; i < 3; i++ {
			msg := fmt.Sprintf("over UDP then TCP #%d, busy poll %s", i, poll)
			reply, err := app.Request(route, []byte(msg), wait)
			if err != nil {
				t.Fatal(err)
			}
			got, ret := string(reply.Payload()), reply.Return()
			reply.Release()
			// [middle's UDP address, middle's connection worker, echoer]
			if got != msg || len(ret) != 3 || ret[0].Type() != wire.UDP || ret[2] != wire.MustParseAddress("echoer") {
				t.Fatalf("reply %q, return route [%v]", got, ret)
			}
		}
	}
}

func TestNodeRunRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"node", "run", "--forward", "no-equals-sign"},
		{"node", "run", "--forward", "f=a=>=>b"},
		{"node", "run", "--tcp-listen", "127.0.0.1:0"},
		{"node", "run", "--echo", "e", "--tcp-listen", "not-an-address"},
		{"node", "run", "--udp-bind", "127.0.0.1:0"},
		{"node", "run", "--echo", "e", "--udp-bind", "not-an-address"},
		{"node", "run", "--echo", "e", "--udp-bind", "127.0.0.1:0", "--udp-client", "nowhere"},
	} {
		cmd := newRoot()
		cmd.SetArgs(args)
		var out, errb bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errb)
		if err := cmd.Execute(); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// serveTCP serves every connection to a new loopback listener with
// handle, each in a goroutine of its own that closes the connection when
// handle returns; the listener closes when t ends. It returns the
// listener's address.
func serveTCP(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				handle(conn)
			}()
		}
	}()
	return l.Addr().String()
}
