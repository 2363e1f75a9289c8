package portal_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine/portal"
	"github.com/hopwire/hopwire/wire"
)

// A peer session gone without a word (its CLOSE lost on the way) does
// not leave the outlet's session and its server connection open for
// ever: the keep-alive PROBE finds the peer's address unknown, and the
// session ends. Here the hand-played inlet is on the outlet's node, so
// the probe's send is refused at once.
func TestKeepAliveEndsOrphanLocal(t *testing.T) {
	closed := make(chan struct{})
	out, peer, _ := openAtOutlet(t, func(c *net.TCPConn) { io.Copy(io.Discard, c); close(closed) },
		portal.OutletConfig{KeepAlive: 20 * time.Millisecond})
	peer.Close() // gone, and no CLOSE sent
	select {
	case <-closed:
	case <-time.After(wait):
		t.Fatalf("the orphaned session's server connection is still open: %+v", out.Stats())
	}
	eventually(t, "session gone", func() bool { return out.Stats().Open == 0 })
}

// The same across nodes: the probe crosses a TCP link, the far node has
// no worker at the peer's address, and its refusal notice ends the
// session; a live idle session beside it stays open.
func TestKeepAliveEndsOrphanRemote(t *testing.T) {
	closed := make(chan struct{}, 2) // the orphan's connection, and at cleanup the live one's
	srv := newServer(t, func(c *net.TCPConn) { io.Copy(io.Discard, c); closed <- struct{}{} })
	outNode, inNode := newNode(t, "out"), newNode(t, "in")
	o, err := portal.NewOutlet(outNode, wire.LocalAddr("outlet"), portal.OutletConfig{Target: srv.addr(), KeepAlive: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	l := listen(t, outNode, "outlet")
	route := wire.Route{l.Addr(), wire.LocalAddr("outlet")}
	live, err := inNode.NewContext(wire.LocalAddr("live"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Close() })
	if err := live.Send(route, openMsg); err != nil {
		t.Fatal(err)
	}
	receiveFrom(t, live, 2)
	gone, err := inNode.NewContext(wire.LocalAddr("gone"))
	if err != nil {
		t.Fatal(err)
	}
	if err := gone.Send(route, openMsg); err != nil {
		t.Fatal(err)
	}
	receiveFrom(t, gone, 2)
	gone.Close() // gone, and no CLOSE sent
	select {
	case <-closed:
	case <-time.After(wait):
		t.Fatalf("the orphaned session's server connection is still open: %+v", o.Stats())
	}
	eventually(t, "orphan gone", func() bool { return o.Stats().Open == 1 })
	// The live one is probed too, and stays: several rounds later it is
	// still open, and what it got were PROBEs only.
	for range 3 {
		m, err := live.Receive(wait)
		if err != nil {
			t.Fatal(err)
		}
		if p := m.Payload(); len(p) != 1 || p[0] != 9 {
			t.Fatalf("live session got %x, want a PROBE", p)
		}
		m.Release()
	}
	if s := o.Stats(); s.Open != 1 || s.BadMessages != 0 || len(closed) != 0 {
		t.Fatalf("the live session did not stay: %+v", s)
	}
}
