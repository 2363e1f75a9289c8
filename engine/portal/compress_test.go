package portal_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine/portal"
	"github.com/hopwire/hopwire/wire"
)

// text is n bytes of JSON-like lines: what HTTP APIs, Redis and SQL
// result sets look like to a codec.
func text(seed, n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"seed":%d,"name":"user-%d","active":%t}`+"\n", i, seed, i%97, i%3 == 0)
	}
	return b.Bytes()[:n]
}

// A session asked to compress (InletConfig.Compress) carries text and
// random bytes both ways intact, compressing what shrinks: the outlet
// follows the inlet's codec.
func TestCompressedSession(t *testing.T) {
	for _, codec := range []wire.Codec{wire.S2, wire.Zstd} {
		t.Run(codec.String(), func(t *testing.T) {
			up := append(text(1, 4<<20), make([]byte, 0)...)
			down := text(2, 4<<20)
			var rnd bytes.Buffer
			stream(&rnd, 3, 1<<20) // incompressible: goes plain
			up = append(up, rnd.Bytes()...)
			got := make(chan [32]byte, 1)
			srv := newServer(t, func(c *net.TCPConn) {
				go func() { c.Write(down); c.CloseWrite() }()
				_, sum, _ := drain(c)
				got <- sum
			})
			p := newPair(t, srv.addr(), pairConfig{inlet: portal.InletConfig{Compress: codec}})
			c := p.dial(t)
			defer c.Close()
			go func() { c.Write(up); c.CloseWrite() }()
			n, sum, err := drain(c)
			if err != nil || sum != sha256.Sum256(down) {
				t.Fatalf("client got %d bytes of %d, err %v", n, len(down), err)
			}
			if s := <-got; s != sha256.Sum256(up) {
				t.Fatal("the server got other bytes than were sent")
			}
			in, out := p.inlet.Stats(), p.outlet.Stats()
			// Most of the text left each side compressed: 4 MiB of text
			// shrinks by well over half with either codec.
			if in.SavedOut < 2<<20 || out.SavedIn != in.SavedOut || out.SavedOut < 2<<20 || in.SavedIn != out.SavedOut {
				t.Fatalf("saved: inlet out %d in %d, outlet in %d out %d", in.SavedOut, in.SavedIn, out.SavedIn, out.SavedOut)
			}
			if in.BytesIn != uint64(len(up)) || out.BytesOut != uint64(len(up)) || in.Resets+out.Resets+in.BadMessages+out.BadMessages != 0 {
				t.Fatalf("stats: inlet %+v outlet %+v", in, out)
			}
		})
	}
}

// DATAZ the outlet cannot take resets the session, counted: compressed
// data on a session that did not ask for compression, bytes that do not
// decode, and a chunk that declares more than the window (a bomb,
// refused before anything is allocated for it).
func TestBadCompressedData(t *testing.T) {
	dataz := func(seq uint32, z []byte) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{10}, seq), z...)
	}
	s2Open := append(bytes.Clone(openMsg), byte(wire.S2))
	for _, tc := range []struct {
		name string
		open []byte
		msg  []byte
	}{
		{"plain session", openMsg, dataz(0, []byte{5, 0, 'h', 'e', 'l', 'l', 'o'})},
		{"garbage", s2Open, dataz(0, []byte("not an s2 block"))},
		{"bomb", s2Open, dataz(0, binary.AppendUvarint(nil, 1<<30))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan []byte, 1)
			out, peer, session := openAtOutletWith(t, tc.open, func(c *net.TCPConn) { b, _ := io.ReadAll(c); got <- b })
			if err := peer.Send(session, tc.msg); err != nil {
				t.Fatal(err)
			}
			select {
			case b := <-got:
				if len(b) != 0 {
					t.Fatalf("the server got %q", b)
				}
			case <-time.After(wait):
				t.Fatal("the session did not end")
			}
			eventually(t, "counted", func() bool { s := out.Stats(); return s.BadMessages == 1 && s.Resets == 1 })
		})
	}
}
