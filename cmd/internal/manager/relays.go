package manager

import (
	"errors"
	"slices"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/hopwire/hopwire/engine/relay"
	"github.com/hopwire/hopwire/wire"
)

// relay.create registers this node at a relay node (engine/relay.Create),
// which then forwards forward_to_NAME here; the relay keeps itself alive
// until relay.delete or the node stops. relay.list lists those and the
// relays registered at this node's forwarding service.

func (s *Server) opRelayCreate(raw cbor.RawMessage) (any, *Error) {
	var a relayArgs
	if err := decodeArgs(OpRelayCreate, raw, &a); err != nil {
		return nil, err
	}
	at, e := wire.ParseAddress(a.At)
	if e != nil || at.IsLocal() {
		return nil, errorf(CodeBadRequest, "relay %s: bad relay node address %q: want a transport address such as 1#127.0.0.1:7000", clip(a.Name), clip(a.At))
	}
	cfg := relay.Config{Name: a.Name, At: at, Logger: s.log}
	for _, name := range a.Allow {
		addr, err := serviceAddr(name)
		if err != nil {
			return nil, err
		}
		cfg.Allow = append(cfg.Allow, addr)
	}
	s.mu.Lock()
	_, taken := s.relays[a.Name]
	s.mu.Unlock()
	if taken {
		return nil, errorf(CodeExists, "relay %s already exists on node %s", clip(a.Name), s.node.Name())
	}
	r, e := relay.Create(s.node, cfg)
	if e != nil {
		var ce *relay.ConfigError
		var ne *relay.NameError
		if errors.As(e, &ce) || errors.As(e, &ne) {
			return nil, errorf(CodeBadRequest, "relay %s: %v", clip(a.Name), e)
		}
		return nil, errorf(CodeFailed, "relay %s at %s: %v", clip(a.Name), a.At, e)
	}
	s.mu.Lock()
	if s.relays[a.Name] != nil || s.closing.Load() {
		s.mu.Unlock()
		r.Close()
		return nil, errorf(CodeExists, "relay %s already exists on node %s", clip(a.Name), s.node.Name())
	}
	s.relays[a.Name] = r
	s.mu.Unlock()
	s.log.Info("relay created", "name", a.Name, "at", a.At, "forward", r.Info().Forward.String())
	return relayInfo(r.Info()), nil
}

func relayInfo(i relay.Info) RelayInfo {
	return RelayInfo{Name: i.Name, Forward: i.Forward.Value(), At: i.At.String(), State: i.State.String(), Since: i.Since, LastError: i.LastError}
}

func (s *Server) opRelayList(cbor.RawMessage) (any, *Error) { return s.relayInfos(), nil }

// relayInfos lists this node's relays, then those it hosts, by name.
func (s *Server) relayInfos() []RelayInfo {
	out := []RelayInfo{}
	s.mu.Lock()
	for _, r := range s.relays {
		out = append(out, relayInfo(r.Info()))
	}
	s.mu.Unlock()
	if f := s.cfg.Forwarding; f != nil {
		for _, h := range f.Relays() {
			out = append(out, RelayInfo{Name: h.Name, Forward: h.Forward.Value(), State: "up", Hosted: true})
		}
	}
	slices.SortFunc(out, func(a, b RelayInfo) int {
		if a.Hosted != b.Hosted {
			if a.Hosted {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

func (s *Server) opRelayDelete(raw cbor.RawMessage) (any, *Error) {
	var a relayArgs
	if err := decodeArgs(OpRelayDelete, raw, &a); err != nil {
		return nil, err
	}
	s.mu.Lock()
	r := s.relays[a.Name]
	delete(s.relays, a.Name)
	s.mu.Unlock()
	if r == nil {
		return nil, errorf(CodeNotFound, "no relay %s on node %s", clip(a.Name), s.node.Name())
	}
	if err := r.Close(); err != nil {
		return nil, errorf(CodeFailed, "closing relay %s: %v", a.Name, err)
	}
	s.log.Info("relay deleted", "name", a.Name)
	return nil, nil
}

// CreateRelay registers the node at the relay node at (a transport
// address, "1#host:port") as name; allow narrows what its traffic may
// reach to those services.
func (c *Client) CreateRelay(name, at string, allow []string) (RelayInfo, error) {
	var info RelayInfo
	err := c.call(OpRelayCreate, relayArgs{Name: name, At: at, Allow: allow}, &info, c.timeout)
	return info, err
}

// ListRelays lists the node's relays and those it hosts.
func (c *Client) ListRelays() ([]RelayInfo, error) {
	var list []RelayInfo
	err := c.call(OpRelayList, nil, &list, c.timeout)
	return list, err
}

// DeleteRelay closes the node's relay name.
func (c *Client) DeleteRelay(name string) error {
	return c.call(OpRelayDelete, relayArgs{Name: name}, nil, c.timeout)
}
