//go:build linux

package engine

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// parker puts an idle loop to sleep in a blocking read of an eventfd, on a
// thread of its own, as gnet's loops sleep in epoll_wait.
//
// Why not a channel: a goroutine woken through a channel is queued to run
// next on the waker's P, so a loop woken by a busy producer shares the
// producer's core until the scheduler moves it; a pipeline then runs on
// one core at half speed, by chance. A thread woken from a syscall takes
// an idle P instead.
type parker struct {
	fd int
}

func (p *parker) init() error {
	runtime.LockOSThread()
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return err
	}
	p.fd = fd
	return nil
}

// park blocks until unpark; a wake-up sent before park is not lost (the
// eventfd counts it).
func (p *parker) park() {
	var b [8]byte
	for {
		_, err := unix.Read(p.fd, b[:])
		if err != unix.EINTR {
			return
		}
	}
}

// unpark is safe from any goroutine. It does not allocate.
func (p *parker) unpark() {
	b := [8]byte{1}
	for {
		_, err := unix.Write(p.fd, b[:])
		if err != unix.EINTR {
			return
		}
	}
}

func (p *parker) close() {
	unix.Close(p.fd)
	runtime.UnlockOSThread()
}
