//go:build linux

package main

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// lockNapper gives the calling goroutine a thread of its own whose naps
// keep time to a few microseconds: the kernel's default timer slack (50
// µs) is taken off it. The goroutine keeps the thread until it ends, and
// the thread ends with it, so the setting touches no other goroutine.
func lockNapper() {
	runtime.LockOSThread()
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
}

// nap sleeps for d in the kernel, not on a Go timer, which an idle Go
// process wakes to the next whole millisecond (see pacer).
func nap(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	_ = unix.Nanosleep(&ts, nil)
}
