package manager

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/unix"
	"github.com/hopwire/hopwire/wire"
)

// seedRequests are real encodings of every op, good and bad.
func seedRequests(t testing.TB) [][]byte {
	t.Helper()
	reqs := []struct {
		op   string
		args any
	}{
		{OpNodeShow, nil},
		{OpServiceStart, serviceArgs{Kind: "echo", Name: "echoer"}},
		{OpServiceStart, serviceArgs{Kind: "hop", Name: "h"}},
		{OpServiceStart, serviceArgs{Kind: "uppercase", Name: "_manager"}},
		{OpServiceList, nil},
		{OpServiceStop, serviceArgs{Name: "h"}},
		{OpListenerCreate, listenerArgs{Type: "tcp", Addr: "127.0.0.1:0"}},
		{OpListenerList, listenerArgs{Type: "unix"}},
		{OpListenerDelete, listenerArgs{Addr: "127.0.0.1:4000"}},
		{OpConnectionCreate, connArgs{Type: "udp", Addr: "127.0.0.1:4000"}},
		{OpConnectionList, nil},
		{OpConnectionDelete, connArgs{Addr: "0#" + strings.Repeat("ab", 16)}},
		{OpMessageSend, sendArgs{Route: "h => echoer", Payload: []byte("hello"), Timeout: 10}},
		{OpMessageSend, sendArgs{Route: "nobody", Timeout: 1}},
		{"node.reboot", nil},
	}
	var out [][]byte
	for _, r := range reqs {
		p, err := encodeRequest(r.op, r.args)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	v2, _ := encMode.Marshal(request{Version: 2, Op: OpNodeShow})
	return append(out, v2, nil, []byte{0xa1}, []byte("\xa3\x01\x01\x01\x01\x02\x69node.show"))
}

// FuzzDecodeRequest feeds arbitrary bytes through the server's handling
// of a request: it never panics and always answers with a well-formed
// response. The node has no TCP or UDP transport and message.send is
// kept to local routes, so nothing reaches the network.
func FuzzDecodeRequest(f *testing.F) {
	node, err := engine.NewNode(engine.Config{Name: "fuzz", Loops: 1})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := unix.New(node, unix.Config{EventLoops: 1}); err != nil {
		f.Fatal(err)
	}
	s, err := Serve(node, Config{Socket: filepath.Join(socketDir(f), "m.sock"), Started: time.Now()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		s.Close()
		node.Close()
	})
	s.maxSend = 20 * time.Millisecond
	for _, p := range seedRequests(f) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if req, err := decodeRequest(p); err == nil && req.Op == OpMessageSend {
			var a sendArgs
			if decodeArgs(req.Op, req.Args, &a) == nil {
				if r, err := wire.ParseRoute(a.Route); err == nil {
					for _, addr := range r {
						if !addr.IsLocal() {
							t.Skip("a route off the node")
						}
					}
				}
			}
		}
		out := s.respond(p)
		resp, err := decodeResponse(out)
		if err != nil {
			t.Fatalf("response %x does not decode: %v", out, err)
		}
		switch {
		case resp.Version != Version:
			t.Fatalf("response version %d", resp.Version)
		case resp.Code > CodeVersion:
			t.Fatalf("response code %d", resp.Code)
		case resp.Code == CodeOK && resp.Error != "":
			t.Fatalf("ok with an error text %q", resp.Error)
		case resp.Code != CodeOK && (resp.Error == "" || strings.ContainsAny(resp.Error, "\r\n")):
			t.Fatalf("code %v with error text %q", resp.Code, resp.Error)
		case resp.Code != CodeOK && len(resp.Body) != 0:
			t.Fatalf("code %v with a body", resp.Code)
		}
	})
}
