package portal_test

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/engine/portal"
	"github.com/hopwire/hopwire/wire"
)

// A DATA message lost on the way (a full queue on a node between refuses
// it) leaves a gap in the seqs: the outlet resets the session rather than
// hand its server a stream with a hole, and so does an EOF that counts
// more DATA than came.
func TestGapResets(t *testing.T) {
	for _, tc := range []struct {
		name string
		msgs [][]byte
	}{
		{"DATA #2 after #0", [][]byte{dataOf(0, "a"), dataOf(2, "c")}},
		{"EOF counts 2 after 1", [][]byte{dataOf(0, "a"), eofOf(2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan []byte, 1)
			out, peer, session := openAtOutlet(t, func(c *net.TCPConn) { b, _ := io.ReadAll(c); got <- b })
			for _, m := range tc.msgs {
				if err := peer.Send(session, m); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case b := <-got:
				if len(b) > 1 {
					t.Fatalf("the server got %q past the gap", b)
				}
			case <-time.After(wait):
				t.Fatal("the session did not end")
			}
			deadline := time.Now().Add(wait)
			for out.Stats().BadMessages == 0 || out.Stats().Resets == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("gap not counted: %+v", out.Stats())
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}

func dataOf(seq uint32, s string) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{4}, seq), s...)
}

func eofOf(count uint32) []byte { return binary.BigEndian.AppendUint32([]byte{6}, count) }

// A CREDIT lost on the way: the outlet, out of credit, sends a PROBE; the
// peer's answer (the credit total) lets the stream go on. The fake peer
// here never sends the CREDIT it owes until probed.
func TestProbeHealsLostCredit(t *testing.T) {
	_, peer, session := openAtOutlet(t, func(c *net.TCPConn) {
		c.Write(make([]byte, 4<<20)) // more than a window
	})
	var got, msgs int64
	probes := 0
	deadline := time.Now().Add(wait)
	for got < 1<<20 {
		m, err := peer.Receive(time.Until(deadline))
		if err != nil {
			t.Fatalf("after %d bytes and %d probes: %v", got, probes, err)
		}
		p := m.Payload()
		switch p[0] {
		case 4: // DATA
			got += int64(len(p) - 5)
			msgs++
		case 9: // PROBE: answer with all the credit the DATA so far cost
			probes++
			if err := peer.Send(session, creditOf(uint64(got+256*msgs))); err != nil {
				t.Fatal(err)
			}
		}
		m.Release()
	}
	if probes == 0 {
		t.Fatal("the stream went on without a probe: the window was not used up")
	}
}

// An EOF lost on the way: its credit does not come back, so the outlet
// sends it again (with a PROBE) until it does; the session then ends.
func TestLostEOFIsSentAgain(t *testing.T) {
	out, peer, session := openAtOutlet(t, func(c *net.TCPConn) {
		c.Write([]byte("hello"))
		c.CloseWrite()
		io.Copy(io.Discard, c)
	})
	eofs, msgs := 0, int64(0)
	var got int64
	deadline := time.Now().Add(wait)
	for eofs < 2 {
		m, err := peer.Receive(time.Until(deadline))
		if err != nil {
			t.Fatalf("after %d EOFs: %v", eofs, err)
		}
		switch p := m.Payload(); p[0] {
		case 4:
			got += int64(len(p) - 5)
			msgs++
		case 6:
			eofs++ // the first is "lost": not answered
		}
		m.Release()
	}
	// Now the credit for the DATA and the EOF, and an EOF of our own: the
	// session has nothing left to wait for.
	if err := peer.Send(session, creditOf(uint64(got+256*msgs+256))); err != nil {
		t.Fatal(err)
	}
	if err := peer.Send(session, eofOf(0)); err != nil {
		t.Fatal(err)
	}
	for out.Stats().Open != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the session did not end: %+v", out.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	if s := out.Stats(); s.Resets != 0 || s.BadMessages != 0 {
		t.Fatalf("the session ended badly: %+v", s)
	}
}

// openAtOutlet starts an outlet to a server that runs handle for its
// connection, and opens a session to it from peer, an app context that
// plays the inlet by hand; session is the route to the outlet's session.
// cfg, if given, is the outlet's (its Target is filled in).
func openAtOutlet(t *testing.T, handle func(*net.TCPConn), cfg ...portal.OutletConfig) (out *portal.Outlet, peer *engine.App, session wire.Route) {
	t.Helper()
	return openAtOutletWith(t, openMsg, handle, cfg...)
}

// openAtOutletWith is openAtOutlet with the OPEN the peer sends.
func openAtOutletWith(t *testing.T, open []byte, handle func(*net.TCPConn), cfg ...portal.OutletConfig) (out *portal.Outlet, peer *engine.App, session wire.Route) {
	t.Helper()
	node, err := engine.NewNode(engine.Config{Name: "outlet-node", Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	srv := newServer(t, handle)
	var oc portal.OutletConfig
	if len(cfg) > 0 {
		oc = cfg[0]
	}
	oc.Target = srv.addr()
	out, err = portal.NewOutlet(node, wire.LocalAddr("outlet"), oc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	peer, err = node.NewContext(wire.LocalAddr("peer"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	if err := peer.Send(wire.MustParseRoute("outlet"), open); err != nil {
		t.Fatal(err)
	}
	return out, peer, receiveFrom(t, peer, 2) // the OK
}
