//go:build unix

package tcp

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// wfd is the write side's own descriptor: a dup of gnet's socket,
// sharing its non-blocking flag. It is deliberately not an os.File: Go
// registers an os.File's descriptor with its poller, edge-triggered for
// reading as well as writing, and the dup shares the socket's wait
// queue, so every packet gnet is sent would also wake a thread parked in
// Go's poller, to find nothing to do (a context switch per message; a
// TCP hop round trip paid 1.2 of them).
//
// Writers enter around each use; close marks it closed, waits until no
// writer is inside and only then closes the number, which the kernel may
// hand to another socket at once.
type wfd struct {
	fd     int
	users  atomic.Int64
	closed atomic.Bool
	pfd    [1]unix.PollFd // the flusher's wait for room; the writer role's holder's
}

// pollWait bounds one wait for room in the socket, so that close, which
// waits for writers, is not held up longer by one waiting for a peer that
// does not read.
const pollWait = 10 // ms

func (w *wfd) enter() bool {
	w.users.Add(1)
	if w.closed.Load() {
		w.users.Add(-1)
		return false
	}
	return true
}

func (w *wfd) leave() { w.users.Add(-1) }

// close closes the descriptor once no writer is inside. It runs when the
// connection is over (gnet has closed its own descriptor), so it shuts
// the socket down first: a flusher waiting for room returns at once
// instead of after pollWait, which matters when a thousand stalled peers
// are closed one after the other on one gnet loop. Writers never wait
// long otherwise: writev does not block.
func (w *wfd) close() {
	if w.closed.Swap(true) {
		return
	}
	_ = unix.Shutdown(w.fd, unix.SHUT_RDWR)
	for w.users.Load() != 0 {
		runtime.Gosched()
	}
	_ = unix.Close(w.fd)
}

// writev writes the iovecs to fd with one system call. Unlike
// unix.Writev it takes iovecs the caller keeps, so it does not allocate.
func writev(fd int, iov []unix.Iovec) (int, error) {
	if len(iov) == 0 {
		return 0, nil
	}
	n, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// waitRoom waits up to pollWait for the socket to take more; the caller
// has entered. Spurious returns are fine: the caller writes and looks
// again.
func (w *wfd) waitRoom() error {
	w.pfd[0] = unix.PollFd{Fd: int32(w.fd), Events: unix.POLLOUT}
	_, err := unix.Poll(w.pfd[:], pollWait)
	if err == unix.EINTR {
		return nil
	}
	return err
}
