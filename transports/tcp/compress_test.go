package tcp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/internal/nodetest"
	"github.com/hopwire/hopwire/wire"
)

func jsonish(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"name":"user-%d","active":%t},`, i, i%97, i%3 == 0)
	}
	return b.Bytes()[:n]
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(7, uint64(n)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Two nodes settle on the densest codec both offer, and payloads cross
// intact both ways: compressed where that saves, plain where it does not
// (short, incompressible), and not at all where either side offers
// nothing.
func TestCompressionSettles(t *testing.T) {
	for _, tc := range []struct {
		client, server wire.Codec
		want           wire.Codec
	}{
		{wire.S2, wire.S2, wire.S2},
		{wire.Zstd, wire.Zstd, wire.Zstd},
		{wire.Zstd, wire.S2, wire.S2},
		{wire.S2, wire.Zstd, wire.S2},
		{wire.Zstd, wire.Plain, wire.Plain},
		{wire.Plain, wire.S2, wire.Plain},
	} {
		t.Run(tc.client.String()+"-"+tc.server.String(), func(t *testing.T) {
			server := newTestNode(t, "server", Config{Compress: tc.server})
			server.start(t, engine.Echo{}, "echoer")
			l := server.listen(t, "echoer")
			client := newTestNode(t, "client", Config{Compress: tc.client})
			app := client.app(t, "app")
			route := l.Addr().String() + " => echoer"
			for _, p := range [][]byte{[]byte("small"), jsonish(64 << 10), randomBytes(64 << 10), jsonish(1 << 20)} {
				if got, _ := request(t, app, route, string(p)); got != string(p) {
					t.Fatalf("%d bytes came back as %d, changed", len(p), len(got))
				}
			}
			for _, n := range []*testNode{client, server} {
				for _, c := range n.tr.byID.load() {
					if !c.open.Load() { // codec is published by open
						t.Fatalf("%s's connection is not open", n.Node.Name())
					}
					if c.codec != tc.want {
						t.Errorf("%s's connection settled on %v, want %v", n.Node.Name(), c.codec, tc.want)
					}
				}
			}
			cs, ss := client.tr.Stats(), server.tr.Stats()
			if tc.want == wire.Plain {
				if cs.SavedOut+cs.SavedIn+ss.SavedIn+ss.SavedOut != 0 {
					t.Fatalf("saved bytes without compression: %+v %+v", cs, ss)
				}
				return
			}
			// The text went compressed both ways: the wire carried a
			// fraction of it.
			if cs.SavedOut < 512<<10 || ss.SavedIn != cs.SavedOut || ss.SavedOut < 512<<10 || cs.SavedIn != ss.SavedOut {
				t.Fatalf("saved: client out %d in %d, server in %d out %d", cs.SavedOut, cs.SavedIn, ss.SavedIn, ss.SavedOut)
			}
		})
	}
}

// A stream of incompressible payloads arrives whole and plain (how
// seldom it is tried is wire.Skipper's, tested there).
func TestIncompressibleGoesPlain(t *testing.T) {
	server := newTestNode(t, "server", Config{Compress: wire.S2})
	server.start(t, engine.Echo{}, "echoer")
	l := server.listen(t, "echoer")
	client := newTestNode(t, "client", Config{Compress: wire.S2})
	app := client.app(t, "app")
	route := l.Addr().String() + " => echoer"
	p := string(randomBytes(16 << 10))
	for range 100 {
		if got, _ := request(t, app, route, p); got != p {
			t.Fatal("payload changed")
		}
	}
	if s := client.tr.Stats(); s.SavedOut != 0 || s.MessagesOut != 100 || s.BytesOut < 100*16<<10 {
		t.Fatalf("random data: %+v", s)
	}
}

// A compressed payload that does not decode, or declares more than the
// max frame (a bomb), closes that connection, counted, with the reason
// logged; a flag the connection did not settle on closes it too; the
// node goes on serving others.
func TestBadCompressedPayloadCloses(t *testing.T) {
	server, logs := loggedNode(t, "server", Config{Compress: wire.S2, MaxFrame: 1 << 20})
	server.start(t, engine.Echo{}, "echoer")
	l := server.listen(t, "echoer")
	s2Hello := wire.LocalHello(wire.CapS2).Append(nil)
	compressed := func(payload []byte) []byte {
		b := encoded(t, "echoer", "", string(payload))
		b[0] |= byte(wire.FlagCompressed)
		return frame(b)
	}
	for i, tc := range []struct {
		hello   []byte
		payload []byte
	}{
		{s2Hello, []byte("this is not an S2 block at all")},
		{s2Hello, binary.AppendUvarint(nil, 1<<30)}, // "1 GiB follows"
		{goodHello, binary.AppendUvarint(nil, 5)},   // compression the peer never offered
	} {
		nc := rawDial(t, l.Addr().Value(), tc.hello)
		if _, err := nc.Write(compressed(tc.payload)); err != nil {
			t.Fatal(err)
		}
		waitClosed(t, nc)
		want := uint64(min(i+1, 2))
		eventually(t, "counted", func() bool { return server.tr.Stats().BadCodec == want })
	}
	if len(logs.Lines(func(l nodetest.LogLine) bool { return l.Attrs["reason"] == "bad compressed payload" })) == 0 {
		t.Fatalf("no log line says why: %v", logs.Lines(nil))
	}
	if s := server.tr.Stats(); s.BadFrame != 1 {
		t.Fatalf("the unsettled flag was not counted as a bad frame: %+v", s)
	}
	client := newTestNode(t, "client", Config{Compress: wire.S2})
	if got, _ := request(t, client.app(t, "app"), l.Addr().String()+" => echoer", "still here"); got != "still here" {
		t.Fatalf("reply %q", got)
	}
}
