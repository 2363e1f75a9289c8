package multiaddr

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/hopwire/hopwire/wire"
)

// canonical checks value v of a p segment and returns its canonical form,
// or a reason it is bad. v is not empty and holds no '/'.
func canonical(p Proto, v string) (string, string) {
	long := quote(v) + " is longer than " + strconv.Itoa(wire.MaxAddressLen) + " bytes"
	switch p {
	case Service:
		if len(v) > wire.MaxAddressLen {
			return "", long
		}
	case Worker:
		if len(v) > wire.MaxAddressLen {
			return "", long
		}
		if len(v)%2 != 0 || !isHex(v) {
			return "", quote(v) + " is not a worker id (an even number of hex digits)"
		}
		return strings.ToLower(v), ""
	case Node:
		if !isNodeName(v) {
			return "", quote(v) + " is not a node name (1-64 of A-Z a-z 0-9 _ -)"
		}
	case IP4, IP6:
		kind := "IPv4"
		if p == IP6 {
			kind = "IPv6"
		}
		a, err := netip.ParseAddr(v)
		switch {
		case err != nil || a.Is4() != (p == IP4):
			return "", quote(v) + " is not an " + kind + " address"
		case a.Zone() != "":
			return "", quote(v) + " has a zone, which a multiaddr cannot hold"
		}
		return a.String(), ""
	case DNSAddr:
		if _, err := netip.ParseAddr(v); err == nil {
			return "", quote(v) + " is an IP address: use /ip4 or /ip6"
		}
		if !isHostName(v) {
			return "", quote(v) + " is not a DNS name"
		}
	case TCP, UDP:
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil || n == 0 {
			return "", quote(v) + " is not a port (1-65535)"
		}
		return strconv.FormatUint(n, 10), ""
	}
	return v, ""
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// isWorkerID reports whether s is a TCP connection's worker name: 32
// lowercase hex digits. FromRoute prints those as /worker.
func isWorkerID(s string) bool {
	return len(s) == 32 && isHex(s) && !strings.ContainsAny(s, "ABCDEF")
}

func isNodeName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// isHostName reports whether s is a DNS name: dot-separated labels of
// letters, digits and '-' (not first or last), at most 63 bytes each and
// 253 in all, the last not all digits (RFC 1123, RFC 3696 section 2).
func isHostName(s string) bool {
	if len(s) > 253 {
		return false
	}
	last := ""
	for label := range strings.SplitSeq(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' {
				return false
			}
		}
		last = label
	}
	return strings.Trim(last, "0123456789") != ""
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
