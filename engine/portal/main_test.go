package portal_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/engine/portal"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's package-level goroutine pool (ants), started by its init.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

// wait bounds every wait of a test: only a broken portal takes this long.
const wait = 60 * time.Second

// nodeTCP is the test nodes' TCP transport configuration: the defaults.
// Many busy sessions overfill a node connection's queue (32 sessions put
// 8 MiB in flight, the queue holds 4 MiB, an accepted connection waits
// 1 ms for room); a session whose DATA is refused sends it again when
// there is room (doc.go, Backpressure), so nothing is lost.
var nodeTCP = tcp.Config{}

// newNode starts a node with a TCP transport, closed when the test ends
// (after the portals, which are closed first: cleanups run last first).
func newNode(t testing.TB, name string, allowDial ...string) *engine.Node {
	t.Helper()
	n, err := engine.NewNode(engine.Config{Name: name, Loops: 2, AllowDial: allowDial})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if _, err := tcp.New(n, nodeTCP); err != nil {
		t.Fatal(err)
	}
	return n
}

// listen starts a TCP listener on n on loopback and allows its flow to
// reach the workers at names.
func listen(t testing.TB, n *engine.Node, names ...string) engine.Listener {
	t.Helper()
	l, err := n.Listen(wire.TCP, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if err := n.Allow(l.Flow(), wire.LocalAddr(name)); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// portalPair is an inlet on one node and an outlet to target on another,
// joined over TCP on loopback.
type portalPair struct {
	inNode, outNode *engine.Node
	outListener     engine.Listener
	inlet           *portal.Inlet
	outlet          *portal.Outlet
	logs            *syncBuffer // both sides' logs
}

type pairConfig struct {
	inlet  portal.InletConfig
	outlet portal.OutletConfig
}

func newPair(t testing.TB, target string, cfg pairConfig) *portalPair {
	t.Helper()
	p := &portalPair{logs: new(syncBuffer)}
	log := slog.New(slog.NewTextHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p.inNode = newNode(t, "in")
	p.outNode = newNode(t, "out")
	outCfg := cfg.outlet
	outCfg.Target, outCfg.Logger = target, log
	o, err := portal.NewOutlet(p.outNode, wire.LocalAddr("outlet"), outCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	p.outlet = o
	p.outListener = listen(t, p.outNode, "outlet")
	inCfg := cfg.inlet
	inCfg.Listen, inCfg.Logger = "127.0.0.1:0", log
	inCfg.Route = wire.Route{p.outListener.Addr(), wire.LocalAddr("outlet")}
	in, err := portal.NewInlet(p.inNode, inCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	p.inlet = in
	return p
}

// dial connects to the inlet.
func (p *portalPair) dial(t testing.TB) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.inlet.Addr(), wait)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(wait))
	return c.(*net.TCPConn)
}

// server is a TCP server on loopback that runs handle for every
// connection, closing what is left when the test ends.
type server struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func newServer(t testing.TB, handle func(*net.TCPConn)) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				c.SetDeadline(time.Now().Add(wait))
				handle(c.(*net.TCPConn))
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *server) addr() string { return s.ln.Addr().String() }

// echo copies what it reads back until EOF, then half-closes.
func echo(c *net.TCPConn) {
	io.Copy(c, c)
	c.CloseWrite()
}

// stream writes n deterministic pseudo-random bytes of seed to w and
// returns their SHA-256.
func stream(w io.Writer, seed uint64, n int64) ([32]byte, error) {
	h := sha256.New()
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	r := rand.NewChaCha8(s)
	buf := make([]byte, 64<<10)
	for n > 0 {
		k := int(min(n, int64(len(buf))))
		r.Read(buf[:k])
		h.Write(buf[:k])
		if _, err := w.Write(buf[:k]); err != nil {
			return [32]byte{}, err
		}
		n -= int64(k)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, nil
}

// expected is stream's hash without writing anywhere.
func expected(seed uint64, n int64) [32]byte {
	sum, _ := stream(io.Discard, seed, n)
	return sum
}

// drain reads r to EOF and returns how much it read and its SHA-256.
func drain(r io.Reader) (int64, [32]byte, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	var sum [32]byte
	h.Sum(sum[:0])
	return n, sum, err
}

// eventually polls cond until it holds, failing the test after wait.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer for a logger shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) contains(sub string) bool { return strings.Contains(s.String(), sub) }

var _ = context.Background
