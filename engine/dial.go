package engine

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/hopwire/hopwire/wire"
)

// dialPolicy is Config.AllowDial, parsed once: where remote traffic may
// make the node open a new link.
type dialPolicy struct {
	rules []dialRule
}

// dialRule matches destinations of one transport type: any (all), one
// exact address value, or an IP prefix with any port or one port.
type dialRule struct {
	typ    wire.Type
	all    bool
	exact  string
	prefix netip.Prefix
	port   uint16 // 0: any
}

// parseDialPolicy parses Config.AllowDial entries: "TYPE#*" (any
// destination of that transport), "TYPE#HOST:PORT" (exactly that one),
// "TYPE#CIDR" or "TYPE#CIDR:PORT" (IP destinations in the prefix, any
// port or that port), with TYPE 1 for TCP and 2 for UDP. A Unix
// socket's address is a path, not an IP: "3#/path/to/sock" allows that
// one, "3#*" any.
func parseDialPolicy(entries []string) (dialPolicy, error) {
	var p dialPolicy
	for _, e := range entries {
		a, err := wire.ParseAddress(e)
		if err != nil || a.Type() == wire.Local {
			return p, &ConfigError{Field: "AllowDial", Reason: "entry " + strconv.Quote(e) + " is not TYPE#DESTINATION (1#host:port, 2#10.0.0.0/8, 1#*)"}
		}
		r := dialRule{typ: a.Type()}
		v := a.Value()
		switch {
		case v == "*":
			r.all = true
		case a.Type() == wire.Unix:
			r.exact = v // a path: its slashes are not a prefix's
		case strings.Contains(v, "/"):
			pfx, port := v, ""
			if i := strings.LastIndexByte(v, ':'); i > strings.LastIndexByte(v, '/') {
				pfx, port = v[:i], v[i+1:]
			}
			pr, err := netip.ParsePrefix(strings.Trim(pfx, "[]"))
			if err != nil {
				return p, &ConfigError{Field: "AllowDial", Reason: "entry " + strconv.Quote(e) + ": " + err.Error()}
			}
			r.prefix = pr.Masked()
			if port != "" {
				n, err := strconv.ParseUint(port, 10, 16)
				if err != nil || n == 0 {
					return p, &ConfigError{Field: "AllowDial", Reason: "entry " + strconv.Quote(e) + ": bad port"}
				}
				r.port = uint16(n)
			}
		default:
			r.exact = v
		}
		p.rules = append(p.rules, r)
	}
	return p, nil
}

// allows reports whether a new link to the address (t, v) is allowed.
func (p *dialPolicy) allows(t wire.Type, v []byte) bool {
	if len(p.rules) == 0 {
		return false
	}
	var ap netip.AddrPort
	parsed := false
	for _, r := range p.rules {
		if r.typ != t {
			continue
		}
		switch {
		case r.all:
			return true
		case r.exact != "":
			if r.exact == string(v) {
				return true
			}
		default:
			if !parsed {
				ap, _ = netip.ParseAddrPort(string(v))
				parsed = true
			}
			if ap.IsValid() && r.prefix.Contains(ap.Addr().Unmap()) && (r.port == 0 || r.port == ap.Port()) {
				return true
			}
		}
	}
	return false
}
