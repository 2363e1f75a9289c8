package engine

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hopwire/hopwire/wire"
)

// fakeType is the address type of fakeTransport.
const fakeType wire.Type = 9

// fakeTransport is a channel-backed transport for engine tests: no
// sockets. Its "connections" are links with a name: dialed ones, made the
// first time a message is sent to 9#NAME (if the node admits the dial),
// and inbound ones the test opens with accept, which also have a
// connection worker at 0#NAME, as a TCP connection does. What leaves over
// a connection goes to out; what arrives the test delivers with in.
type fakeTransport struct {
	t     *testing.T
	node  *Node
	dial  uint64 // spawner of dialed links
	out   chan sent
	mu    sync.Mutex
	conns map[string]*fakeConn
}

type fakeConn struct {
	name string
	link *Link
	in   *Inbound
}

// sent is a message that left over a fake connection.
type sent struct {
	conn string
	m    *wire.Message
}

func newFakeTransport(t *testing.T, n *Node) *fakeTransport {
	f := &fakeTransport{t: t, node: n, dial: n.newFlow(), out: make(chan sent, 64), conns: make(map[string]*fakeConn)}
	if err := HostOf(n).AddTransport(f); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeTransport) Type() wire.Type { return fakeType }

func (f *fakeTransport) Send(m *wire.Message) error {
	_, v, _ := m.Next()
	f.mu.Lock()
	c := f.conns[string(v)]
	f.mu.Unlock()
	if c == nil {
		if err := f.node.admitDial(m, fakeType, v); err != nil {
			m.Release()
			return err
		}
		c = f.open(string(v))
	}
	if err := c.link.Admit(m); err != nil {
		m.Release()
		return err
	}
	return f.leave(c, m)
}

func (f *fakeTransport) leave(c *fakeConn, m *wire.Message) error {
	if err := m.Step(); err != nil {
		m.Release()
		return err
	}
	f.out <- sent{c.name, m}
	return nil
}

func (f *fakeTransport) Close() error { return nil }

// Listen returns a listener whose flow accept takes as its spawner.
func (f *fakeTransport) Listen(addr string) (Listener, error) {
	a, err := wire.NewAddress(fakeType, addr)
	if err != nil {
		return nil, err
	}
	l := &fakeListener{addr: a, flow: f.node.newFlow(), done: make(chan struct{})}
	HostOf(f.node).Listening(l)
	return l, nil
}

// Connect opens a dialed connection to name at once.
func (f *fakeTransport) Connect(name string) (Conn, error) {
	a, err := wire.NewAddress(fakeType, name)
	if err != nil {
		return nil, err
	}
	return fakeHandle{f.open(name), a}, nil
}

type fakeListener struct {
	addr wire.Address
	flow uint64
	once sync.Once
	done chan struct{}
}

func (l *fakeListener) Addr() wire.Address    { return l.addr }
func (l *fakeListener) Flow() uint64          { return l.flow }
func (l *fakeListener) Done() <-chan struct{} { return l.done }
func (l *fakeListener) Close() error          { l.once.Do(func() { close(l.done) }); return nil }

type fakeHandle struct {
	c    *fakeConn
	addr wire.Address
}

func (h fakeHandle) Addr() wire.Address    { return h.addr }
func (h fakeHandle) Flow() uint64          { return h.c.link.Flow() }
func (h fakeHandle) Done() <-chan struct{} { return h.c.link.Done() }
func (h fakeHandle) Close() error          { h.c.link.Close(); return nil }

// open makes a connection the node dialed.
func (f *fakeTransport) open(name string) *fakeConn {
	c := &fakeConn{name: name, link: f.node.newLink(f.dial, true), in: HostOf(f.node).NewInbound()}
	f.mu.Lock()
	f.conns[name] = c
	f.mu.Unlock()
	return c
}

// accept opens an inbound connection spawned by listener, with its
// connection worker.
func (f *fakeTransport) accept(name string, listener uint64) *fakeConn {
	c := &fakeConn{name: name, link: f.node.newLink(listener, false), in: HostOf(f.node).NewInbound()}
	f.mu.Lock()
	f.conns[name] = c
	f.mu.Unlock()
	if err := HostOf(f.node).StartDirect(directFunc(func(m *wire.Message) error { return f.leave(c, m) }), c.link, wire.LocalAddr(name)); err != nil {
		f.t.Fatal(err)
	}
	return c
}

// deliver hands the node a message that arrived over c, with c's worker
// at the front of the return route as a transport puts it.
func (f *fakeTransport) deliver(c *fakeConn, onward, ret string, payload string) error {
	f.t.Helper()
	r := wire.Route{}
	if ret != "" {
		r = wire.MustParseRoute(ret)
	}
	m, err := f.node.Pool().Build(wire.MustParseRoute(onward), r, []byte(payload))
	if err != nil {
		f.t.Fatal(err)
	}
	if err := m.PrependReturn(wire.MustParseAddress("0#" + c.name)); err != nil {
		f.t.Fatal(err)
	}
	return c.in.Deliver(c.link, m)
}

// expect waits for a message to leave over conn and returns its payload.
func (f *fakeTransport) expect(conn string) string {
	f.t.Helper()
	select {
	case s := <-f.out:
		defer s.m.Release()
		if s.conn != conn {
			f.t.Fatalf("message %q left over %s, want %s", s.m.Payload(), s.conn, conn)
		}
		return string(s.m.Payload())
	case <-time.After(wait):
		f.t.Fatalf("nothing left over %s", conn)
		return ""
	}
}

// expectNotices waits for refusal notices to leave over conn, one for
// each of texts, in any order (one that went through a hop may overtake
// one that did not), and checks their flags and hop budget. Their return
// routes are empty but for the hops they went through on the way out.
func (f *fakeTransport) expectNotices(conn string, texts ...string) {
	f.t.Helper()
	want := slices.Sorted(slices.Values(texts))
	var got []string
	for range texts {
		select {
		case s := <-f.out:
			if s.conn != conn || s.m.Flags() != wire.FlagError || s.m.Hops() != wire.DefaultHops {
				f.t.Errorf("left over %s: flags %d, hops %d, payload %q; want a notice over %s", s.conn, s.m.Flags(), s.m.Hops(), s.m.Payload(), conn)
			}
			got = append(got, string(s.m.Payload()))
			s.m.Release()
		case <-time.After(wait):
			f.t.Fatalf("no notice left over %s", conn)
		}
	}
	if slices.Sort(got); !slices.Equal(got, want) {
		f.t.Fatalf("notices over %s say %q, want %q", conn, got, want)
	}
}

// quiet checks that nothing left the node.
func (f *fakeTransport) quiet() {
	f.t.Helper()
	select {
	case s := <-f.out:
		p := string(s.m.Payload())
		s.m.Release()
		f.t.Fatalf("message %q left over %s", p, s.conn)
	case <-time.After(20 * time.Millisecond):
	}
}
