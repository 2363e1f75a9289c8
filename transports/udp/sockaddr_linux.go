//go:build linux

package udp

import (
	"net"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockaddr is a peer's socket address in the kernel's layout, built once
// when the peer is first seen and only read after: any number of senders
// pass it to sendto at once. (unix.Sendto would fill a Sockaddr's raw
// form on every call, a data race between concurrent senders.)
type sockaddr struct {
	raw [unix.SizeofSockaddrInet6]byte
	n   uint32
}

// makeSockaddr builds the socket address of ap for a socket of the given
// family: an IPv4 peer of an IPv6 socket becomes v4-mapped.
func makeSockaddr(ap netip.AddrPort, family int) (sockaddr, error) {
	var sa sockaddr
	a := ap.Addr()
	switch {
	case family == unix.AF_INET && a.Is4():
		r := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa.raw))
		r.Family = unix.AF_INET
		putPort(&r.Port, ap.Port())
		r.Addr = a.As4()
		sa.n = unix.SizeofSockaddrInet4
	case family == unix.AF_INET6:
		r := (*unix.RawSockaddrInet6)(unsafe.Pointer(&sa.raw))
		r.Family = unix.AF_INET6
		putPort(&r.Port, ap.Port())
		r.Addr = a.As16()
		if z := a.Zone(); z != "" {
			id, err := zoneIndex(z)
			if err != nil {
				return sa, err
			}
			r.Scope_id = id
		}
		sa.n = unix.SizeofSockaddrInet6
	default:
		return sa, ErrFamily
	}
	return sa, nil
}

// putPort stores a port in network byte order.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

func zoneIndex(z string) (uint32, error) {
	if n, err := strconv.ParseUint(z, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(z)
	if err != nil {
		return 0, err
	}
	return uint32(ifi.Index), nil
}

// sendto sends b to sa on fd with one system call, never waiting
// (MSG_DONTWAIT). b must not be empty. It does not allocate.
func sendto(fd int, b []byte, sa *sockaddr) error {
	for range 4 {
		_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd),
			uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), unix.MSG_DONTWAIT,
			uintptr(unsafe.Pointer(&sa.raw[0])), uintptr(sa.n))
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		case unix.EAGAIN, unix.ENOBUFS:
			return ErrBusy
		default:
			return e
		}
	}
	return unix.EINTR
}

// localAddr returns the address and family a socket is bound to.
func localAddr(fd int) (netip.AddrPort, int, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, 0, err
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), unix.AF_INET, nil
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)), unix.AF_INET6, nil
	}
	return netip.AddrPort{}, 0, ErrFamily
}

// recvfrom reads one datagram into p.buf without waiting (MSG_DONTWAIT)
// and returns its size and sender (invalid for a family other than IP);
// IPv4 senders of an IPv6 socket are unmapped. It does not allocate but
// for an IPv6 sender with a zone.
func recvfrom(fd int, p *poller) (int, netip.AddrPort, error) {
	for {
		p.size = unix.SizeofSockaddrAny
		n, _, e := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd),
			uintptr(unsafe.Pointer(&p.buf[0])), uintptr(len(p.buf)), unix.MSG_DONTWAIT,
			uintptr(unsafe.Pointer(&p.from)), uintptr(unsafe.Pointer(&p.size)))
		switch e {
		case 0:
			return int(n), rawAddrPort(&p.from), nil
		case unix.EINTR:
			continue
		default:
			return 0, netip.AddrPort{}, e
		}
	}
}

// rawAddrPort reads a sender's address from the kernel's layout, as
// addrPortOf reads gnet's: the zone of a scoped IPv6 address is its
// interface's name, or its index if it has none.
func rawAddrPort(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		r := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(r.Addr), getPort(&r.Port))
	case unix.AF_INET6:
		r := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		a := netip.AddrFrom16(r.Addr).Unmap()
		if r.Scope_id != 0 && a.Is6() {
			a = a.WithZone(zoneName(r.Scope_id))
		}
		return netip.AddrPortFrom(a, getPort(&r.Port))
	}
	return netip.AddrPort{}
}

// getPort reads a port stored in network byte order.
func getPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func zoneName(id uint32) string {
	if ifi, err := net.InterfaceByIndex(int(id)); err == nil {
		return ifi.Name
	}
	return strconv.FormatUint(uint64(id), 10)
}
