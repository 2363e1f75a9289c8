package udp

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

func rawConn(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sendRaw(t *testing.T, c *net.UDPConn, to string, b []byte) {
	t.Helper()
	ua, err := net.ResolveUDPAddr("udp", to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteToUDP(b, ua); err != nil {
		t.Fatal(err)
	}
}

// encode builds the datagram of a message, as a peer would send it.
func encode(t *testing.T, p *wire.Pool, onward, ret string, payload []byte) []byte {
	t.Helper()
	m, err := p.Build(wire.MustParseRoute(onward), wire.MustParseRoute(ret), payload)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	return append([]byte(nil), m.Datagram()...)
}

// waitFor polls cond for up to wait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(wait); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Garbage datagrams from a raw socket are dropped and counted while a
// good ping-pong on the same socket keeps going; a well-formed message
// from the raw socket gets its reply there.
func TestGarbageDatagrams(t *testing.T) {
	server := newTestNode(t, "server", Config{MaxDatagram: 1024})
	server.start(t, engine.Echo{}, "echoer")
	s := server.bind(t, "echoer")
	client := newTestNode(t, "client", Config{})
	app := client.app(t, "app")
	raw := rawConn(t)

	pool := wire.NewPool(0)
	good := encode(t, pool, "echoer", "x", []byte("hi"))
	truncated := good[:len(good)-4] // cuts into the onward address
	noOnward := []byte{wire.Version, 0, 9, 0, 0, 'p', 'a', 'y'}
	badLen := []byte{wire.Version, 0, 9, 1, 0, 0, 0} // an address with an empty value
	oldVersion := []byte{1, 1, 0, 0, 1, 'x'}
	tooBig := make([]byte, 2000)
	copy(tooBig, good)
	compressed := bytes.Clone(good) // a flag that needs a capability: none over UDP
	compressed[1] = byte(wire.FlagCompressed)
	garbage := [][]byte{
		compressed,
		{},
		{0xff},
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		truncated,
		noOnward,
		badLen,
		oldVersion,
		tooBig,
	}
	const rounds = 20
	for i := 0; i < rounds; i++ {
		for _, g := range garbage {
			sendRaw(t, raw, s.Addr().Value(), g)
		}
		if got, _ := request(t, app, s.Addr().String()+" => echoer", "ping"); got != "ping" {
			t.Fatalf("round %d: reply %q", i, got)
		}
	}
	want := uint64(rounds * len(garbage))
	waitFor(t, "the garbage to be counted", func() bool { return server.tr.Stats().BadDatagram == want })

	// The raw socket speaks the protocol: it gets the echo back, with
	// the onward route it gave as return route and the echoer as return.
	sendRaw(t, raw, s.Addr().Value(), good)
	_ = raw.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 2048)
	n, from, err := raw.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if from.String() != s.Addr().Value() {
		t.Fatalf("reply from %v, want the server's socket %v", from, s.Addr().Value())
	}
	body, err := wire.DatagramMessage(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	m, err := pool.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	if !m.Onward().Equal(wire.MustParseRoute("x")) || !m.Return().Equal(wire.MustParseRoute("echoer")) || string(m.Payload()) != "hi" {
		t.Fatalf("reply onward %v return %v payload %q", m.Onward(), m.Return(), m.Payload())
	}
	if st := server.tr.Stats(); st.BadDatagram != want || st.Denied != 0 || st.Undeliverable != 0 {
		t.Fatalf("server stats %+v", st)
	}
}

// The client socket takes replies only from addresses the node sent to.
func TestUnsolicitedDropped(t *testing.T) {
	n := newTestNode(t, "n", Config{})
	n.start(t, engine.Echo{}, "echoer") // reachable with flow 0: must not be
	raw := rawConn(t)
	sendRaw(t, raw, n.tr.ClientAddr(), encode(t, n.Pool(), "echoer", "x", []byte("sneak")))
	waitFor(t, "the datagram to be dropped", func() bool { return n.tr.Stats().Unsolicited == 1 })
	_ = raw.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, _, err := raw.ReadFromUDPAddrPort(make([]byte, 64)); err == nil {
		t.Fatal("the echoer answered an unsolicited datagram")
	}
}

func TestTooLarge(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echoer")
	s := server.bind(t, "echoer")
	client := newTestNode(t, "client", Config{MaxDatagram: 512})
	app := client.app(t, "app")
	route := wire.MustParseRoute(s.Addr().String() + " => echoer")

	err := app.Send(route, make([]byte, 1000))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Send: %v, want ErrTooLarge", err)
	}
	var se *SizeError
	if !errors.As(err, &se) || se.Limit != 512 || se.Size <= 1000 || se.Peer != s.Addr().Value() {
		t.Fatalf("error %#v", err)
	}
	if !strings.Contains(err.Error(), "512") {
		t.Fatalf("error text %q does not name the limit", err)
	}
	if st := client.tr.Stats(); st.TooLarge != 1 {
		t.Fatalf("client stats %+v, want TooLarge 1", st)
	}
	// One that fits goes.
	if got, _ := request(t, app, s.Addr().String()+" => echoer", strings.Repeat("a", 400)); len(got) != 400 {
		t.Fatalf("reply of %d bytes", len(got))
	}
}

func TestSendErrors(t *testing.T) {
	n := newTestNode(t, "n", Config{})
	app := n.app(t, "app")
	for _, tc := range []struct {
		route string
		want  error
	}{
		{"2#localhost:4000 => echoer", ErrBadAddress}, // names are not resolved
		{"2#127.0.0.1 => echoer", ErrBadAddress},
		{"2#127.0.0.1:0 => echoer", ErrBadAddress},
		{"2#[::1]:4000 => echoer", ErrFamily}, // the client socket is IPv4
		{"2#127.0.0.1:4000", wire.ErrEmptyRoute},
	} {
		if err := app.Send(wire.MustParseRoute(tc.route), []byte("x")); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.route, err, tc.want)
		}
	}
	if st := n.tr.Stats(); st.SendErrors != 5 {
		t.Fatalf("stats %+v, want SendErrors 5", st)
	}
}

func TestConfigErrors(t *testing.T) {
	n, err := engine.NewNode(engine.Config{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	for _, cfg := range []Config{
		{MaxDatagram: 10},
		{MaxDatagram: 70000},
		{MaxDatagram: -1},
		{ClientAddr: "localhost:0"},
	} {
		var ce *ConfigError
		if _, err := New(n, cfg); !errors.As(err, &ce) {
			t.Errorf("%+v: %v, want a *ConfigError", cfg, err)
		}
	}
}

// Closing a socket stops it and forgets its peers; the transport and its
// other sockets carry on; closes are idempotent.
func TestClose(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echoer")
	s1 := server.bind(t, "echoer")
	s2 := server.bind(t, "echoer")
	client := newTestNode(t, "client", Config{})
	app := client.app(t, "app")
	for _, s := range []*socket{s1, s2} {
		if got, _ := request(t, app, s.Addr().String()+" => echoer", "x"); got != "x" {
			t.Fatalf("reply %q", got)
		}
	}
	if st := server.tr.Stats(); st.Sockets != 2 || st.Peers != 1 {
		t.Fatalf("server stats %+v", st)
	}
	_ = s1.Close()
	_ = s1.Close()
	if st := server.tr.Stats(); st.Sockets != 1 || st.Peers != 0 {
		t.Fatalf("server stats after closing a socket %+v", st)
	}
	if got, _ := request(t, app, s2.Addr().String()+" => echoer", "y"); got != "y" {
		t.Fatalf("reply %q", got)
	}
	_ = server.tr.Close()
	_ = server.tr.Close()
	if err := app.Send(wire.MustParseRoute(s2.Addr().String()+" => echoer"), nil); err != nil {
		t.Fatalf("client send after the server closed: %v (UDP does not know)", err)
	}
	local := server.app(t, "local")
	if err := local.Send(wire.MustParseRoute(s2.Addr().String()+" => echoer"), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("send on a closed transport: %v, want ErrClosed", err)
	}
	if _, err := server.tr.Listen("127.0.0.1:0"); !errors.Is(err, ErrClosed) {
		t.Fatalf("bind on a closed transport: %v, want ErrClosed", err)
	}
}

// The peer table is bounded: past MaxPeers it starts over.
func TestPeerTableBounded(t *testing.T) {
	n := newTestNode(t, "n", Config{MaxPeers: 4})
	app := n.app(t, "app")
	for i := 0; i < 10; i++ {
		// Raw sockets that never read: the datagrams are lost, as UDP allows.
		to := rawConn(t).LocalAddr().String()
		if err := app.Send(wire.MustParseRoute("2#"+to+" => x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if st := n.tr.Stats(); st.Peers > 4 || st.Resets == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Concurrent senders racing the transport's Close: every message is
// released (the node's cleanup checks Pool().Live()), nothing panics, and
// a sendto never meets a closed descriptor.
func TestConcurrentSendAndClose(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echoer")
	s := server.bind(t, "echoer")
	client := newTestNode(t, "client", Config{})
	route := wire.MustParseRoute(s.Addr().String() + " => echoer")
	const senders, perSender = 4, 2000
	done := make(chan error, senders)
	for i := 0; i < senders; i++ {
		app := client.app(t, "app"+strconv.Itoa(i+1))
		go func() {
			for j := 0; j < perSender; j++ {
				err := app.Send(route, []byte("burst"))
				if errors.Is(err, ErrClosed) || errors.Is(err, engine.ErrClosed) {
					break
				}
				if err != nil && !errors.Is(err, ErrBusy) && !errors.Is(err, ErrSocketClosed) {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	time.Sleep(2 * time.Millisecond)
	_ = client.tr.Close()
	for i := 0; i < senders; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the gnet loop and the test.
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

// A dropped datagram is logged with the sender's address, once a second
// per cause however many come and on however many sockets; the line says
// how many were held back.
func TestBadDatagramLogged(t *testing.T) {
	var out syncBuffer
	n, err := engine.NewNode(engine.Config{Name: "n", Loops: 1, Logger: slog.New(slog.NewTextHandler(&out, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	tr, err := New(n, testConfig(Config{MaxDatagram: 1024}))
	if err != nil {
		t.Fatal(err)
	}
	raw := rawConn(t)
	began := time.Now()
	const each = 10
	for i := 0; i < 2; i++ {
		s, err := tr.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < each; j++ {
			sendRaw(t, raw, s.Addr().Value(), []byte{wire.Version, 0xff, 0xff})
			sendRaw(t, raw, s.Addr().Value(), make([]byte, 2000))
		}
	}
	waitFor(t, "the garbage to be counted", func() bool { return tr.Stats().BadDatagram == 4*each })
	elapsed := time.Since(began)
	log := out.String()
	most := 1 + int(elapsed/time.Second)
	for _, cause := range []string{"dropped undecodable datagram", "dropped datagram over Config.MaxDatagram"} {
		if k := strings.Count(log, cause); k < 1 || k > most {
			t.Errorf("%d lines %q for %d datagrams in %v, want 1 to %d", k, cause, 2*each, elapsed, most)
		}
	}
	if !strings.Contains(log, "peer="+raw.LocalAddr().String()) || !strings.Contains(log, "suppressed=") {
		t.Fatalf("log:\n%s", log)
	}
}
