package tcp

import (
	"runtime"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// close waits for a writer inside, refuses writers after, and the number
// it closed is really closed.
func TestWriteDescriptorClose(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	w := &wfd{fd: fds[0]}
	if !w.enter() {
		t.Fatal("enter refused on an open descriptor")
	}
	var left atomic.Bool
	closed := make(chan struct{})
	go func() {
		w.close()
		if !left.Load() {
			t.Error("close returned while a writer was inside")
		}
		close(closed)
	}()
	// The writer goes on using the descriptor until it leaves.
	for !w.closed.Load() {
		runtime.Gosched()
	}
	if _, err := unix.Write(fds[0], []byte("x")); err != nil && err != unix.EPIPE {
		t.Errorf("write while inside: %v", err)
	}
	left.Store(true)
	w.leave()
	<-closed
	if w.enter() {
		t.Fatal("enter accepted after close")
	}
	if _, err := unix.FcntlInt(uintptr(fds[0]), unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("descriptor after close: %v, want EBADF", err)
	}
	w.close() // again: nothing
}
