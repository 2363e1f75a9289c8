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
			node, err := engine.NewNode(engine.Config{Name: "gap", Loops: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer node.Close()
			got := make(chan []byte, 1)
			srv := newServer(t, func(c *net.TCPConn) { b, _ := io.ReadAll(c); got <- b })
			out, err := portal.NewOutlet(node, wire.LocalAddr("outlet"), portal.OutletConfig{Target: srv.addr()})
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			peer, err := node.NewContext(wire.LocalAddr("peer"))
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			if err := peer.Send(wire.MustParseRoute("outlet"), openMsg); err != nil {
				t.Fatal(err)
			}
			session := receiveFrom(t, peer, 2) // the OK
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
