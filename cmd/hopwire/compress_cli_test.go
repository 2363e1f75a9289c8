package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Compression from the CLI: nodes created with --compress s2 settle on
// it and node show counts what it saved; an inlet made with --compress
// zstd compresses its sessions, and tcp-inlet list says so; the bytes
// arrive intact either way; a codec nobody knows is a usage error.
func TestCompressionFromCLI(t *testing.T) {
	c := newCLI(t)
	c.fails(2, "unknown compression", "node", "create", "nx", "--compress", "gzip")
	c.ok("node", "create", "n1", "--compress", "s2")
	c.ok("node", "create", "n3", "--compress", "s2")
	var body bytes.Buffer
	for i := 0; body.Len() < 2<<20; i++ {
		fmt.Fprintf(&body, `{"id":%d,"name":"user-%d","active":%t}`+"\n", i, i%97, i%3 == 0)
	}
	target := serveTCP(t, func(conn net.Conn) { conn.Write(body.Bytes()) })
	c.ok("tcp-outlet", "create", "--at", "n3", "--to", target)
	c.fails(2, "unknown compression", "tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0", "--to", "/node/n3/service/outlet", "--compress", "lz4")
	plain := strings.TrimSpace(c.ok("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0", "--to", "/node/n3/service/outlet"))
	zstd := strings.TrimSpace(c.ok("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0", "--to", "/node/n3/service/outlet", "--compress", "zstd"))
	for _, addr := range []string{plain, zstd} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(time.Minute))
		got, err := io.ReadAll(conn)
		conn.Close()
		if err != nil || !bytes.Equal(got, body.Bytes()) {
			t.Fatalf("%s: %d bytes of %d, err %v", addr, len(got), body.Len(), err)
		}
	}
	// The plain inlet's session crossed a compressing connection: n3
	// sent it compressed.
	var show struct {
		Compress string                       `json:"compress"`
		Counters map[string]map[string]uint64 `json:"counters"`
	}
	mustJSON(t, c.ok("node", "show", "n3", "--output", "json"), &show)
	if show.Compress != "s2" {
		t.Fatalf("node show says compression %q, want s2", show.Compress)
	}
	if s := show.Counters["tcp"]["saved_out"]; s < 1<<20 {
		t.Fatalf("n3 saved %d bytes sending 2 MiB of text over an s2 connection", s)
	}
	var inlets []struct {
		Listen   string `json:"listen"`
		Compress string `json:"compress"`
		SavedIn  uint64 `json:"saved_in"`
	}
	mustJSON(t, c.ok("tcp-inlet", "list", "--at", "n1", "--output", "json"), &inlets)
	for _, in := range inlets {
		switch in.Listen {
		case plain:
			if in.Compress != "" || in.SavedIn != 0 {
				t.Fatalf("plain inlet: %+v", in)
			}
		case zstd:
			if in.Compress != "zstd" || in.SavedIn < 1<<20 {
				t.Fatalf("zstd inlet: %+v", in)
			}
		}
	}
}
