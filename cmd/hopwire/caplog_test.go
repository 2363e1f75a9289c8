package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// A background node's log starts over past maxLogBytes, and says so.
func TestLogIsCapped(t *testing.T) {
	f, err := os.OpenFile(filepath.Join(t.TempDir(), "node.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := newCappedLog(f)
	line := bytes.Repeat([]byte("x"), 1<<20)
	for range 3 * maxLogBytes / len(line) {
		if _, err := w.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > maxLogBytes {
		t.Fatalf("log is %d bytes, cap %d", fi.Size(), maxLogBytes)
	}
	b, _ := os.ReadFile(f.Name())
	if !bytes.HasPrefix(b, []byte("--- log started over")) {
		t.Fatalf("log does not say it started over: %q", b[:40])
	}
}
