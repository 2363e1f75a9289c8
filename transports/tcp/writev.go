//go:build unix

package tcp

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

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
