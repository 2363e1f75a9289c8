package portal_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/engine/portal"
	"github.com/hopwire/hopwire/wire"
)

// Real encodings of the session messages (doc.go), for seeds.
var (
	openMsg  = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32([]byte{1, 1}, 256<<10), 63<<10)
	okMsg    = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32([]byte{2}, 256<<10), 63<<10)
	creditOf = func(n uint64) []byte { return binary.BigEndian.AppendUint64([]byte{5}, n) }
)

// messages splits fuzz input into payloads: a length byte, then that
// many bytes, again and again.
func messages(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := min(int(b[0]), len(b)-1)
		out = append(out, b[1:1+n])
		b = b[1+n:]
	}
	return out
}

// seedOf is the fuzz input that sends ms to the side picked by side.
func seedOf(side byte, ms ...[]byte) []byte {
	b := []byte{side}
	for _, m := range ms {
		b = append(b, byte(len(m)))
		b = append(b, m...)
	}
	return b
}

// FuzzSession feeds a session (an outlet's, or an inlet's, by the first
// byte) the messages the rest of the input holds, from a fake peer: no
// panic, the session ends on what breaks the protocol, and a RESET
// afterwards ends it if it still runs, leaving nothing open.
func FuzzSession(f *testing.F) {
	f.Add(seedOf(0, dataOf(0, "hi"), eofOf(1), creditOf(1000)))
	f.Add(seedOf(0, dataOf(0, "a"), dataOf(2, "c")))
	f.Add(seedOf(0, []byte{4}, eofOf(0), eofOf(0)))
	f.Add(seedOf(0, creditOf(1<<30)))
	f.Add(seedOf(0, openMsg, okMsg, []byte{3, 'n', 'o'}))
	f.Add(seedOf(1, okMsg, dataOf(0, "x"), eofOf(1), []byte{7}))
	f.Add(seedOf(1, []byte{3, 'n', 'o'}))
	f.Add(seedOf(1, dataOf(0, "x")))
	f.Add(seedOf(1, okMsg, okMsg))
	f.Add(seedOf(1, okMsg, creditOf(1)))
	f.Add(seedOf(0, []byte{9}, creditOf(1000), creditOf(999), []byte{9}))
	// Compressed sessions (an outlet asked for S2 by the OPEN when the
	// first byte has bit 1 set; an inlet told so by its OK).
	hello := s2Block("hello hello hello hello hello hello hello hello")
	f.Add(seedOf(2, datazOf(0, hello), eofOf(1)))
	f.Add(seedOf(2, datazOf(0, binary.AppendUvarint(nil, 1<<30))))
	f.Add(seedOf(0, datazOf(0, hello)))
	f.Add(seedOf(1, append(bytes.Clone(okMsg), byte(wire.S2)), datazOf(0, hello), dataOf(1, "x")))

	node, err := engine.NewNode(engine.Config{Name: "fuzz", Loops: 2})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { node.Close() })
	srv := newServer(f, func(c *net.TCPConn) { io.Copy(io.Discard, c) })
	out, err := portal.NewOutlet(node, wire.LocalAddr("outlet"), portal.OutletConfig{Target: srv.addr()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { out.Close() })
	in, err := portal.NewInlet(node, portal.InletConfig{Listen: "127.0.0.1:0", Route: wire.MustParseRoute("fake")})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { in.Close() })
	fake, err := node.NewContext(wire.LocalAddr("fake"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { fake.Close() })

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		var peer wire.Route
		if data[0]&1 == 0 {
			open := openMsg
			if data[0]&2 != 0 {
				open = append(bytes.Clone(openMsg), byte(wire.S2))
			}
			if err := fake.Send(wire.MustParseRoute("outlet"), open); err != nil {
				t.Fatal(err)
			}
			peer = receiveFrom(t, fake, 2) // the OK
		} else {
			c, err := net.Dial("tcp", in.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte("some bytes for the reader"))
			peer = receiveFrom(t, fake, 1) // the OPEN
		}
		for _, p := range messages(data[1:]) {
			fake.Send(peer, p) // the session may have ended: its worker is gone
		}
		fake.Send(peer, []byte{8})
		deadline := time.Now().Add(wait)
		for in.Stats().Open != 0 || out.Stats().Open != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("sessions left open: inlet %+v outlet %+v", in.Stats(), out.Stats())
			}
			time.Sleep(100 * time.Microsecond)
		}
		for { // what the sessions sent the fake peer
			m, err := fake.Receive(0)
			if errors.Is(err, engine.ErrTimeout) {
				break
			}
			if m != nil {
				m.Release()
			}
		}
	})
}

func datazOf(seq uint32, z []byte) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{10}, seq), z...)
}

func s2Block(s string) []byte {
	z := make([]byte, wire.S2.Bound(len(s)))
	out, ok := wire.S2.Encode(z, []byte(s))
	if !ok {
		panic("s2Block: does not shrink")
	}
	return out
}

// receiveFrom receives messages at app until one of kind comes, and
// returns its return route.
func receiveFrom(t *testing.T, app *engine.App, kind byte) wire.Route {
	t.Helper()
	for {
		m, err := app.Receive(wait)
		if errors.Is(err, engine.ErrTimeout) {
			t.Fatalf("no message of kind %d", kind)
		}
		if err != nil {
			continue
		}
		p, r := m.Payload(), m.Return() // r is a copy; p is m's, so looked at before the release
		match := len(p) > 0 && p[0] == kind
		m.Release()
		if match {
			return r
		}
	}
}
