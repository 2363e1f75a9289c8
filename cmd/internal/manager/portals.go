package manager

import (
	"net"
	"slices"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/engine/portal"
	"github.com/hopwire/hopwire/wire"
)

// TCP portals (engine/portal): outlet.create starts an outlet, a public
// service like the others, that connects each session to its target;
// inlet.create listens on a TCP address and opens a session along its
// route for each connection it accepts.

// outlet is an outlet and what it was made with.
type outlet struct {
	o      *portal.Outlet
	target string
}

// inlet is an inlet and what it was made with.
type inlet struct {
	in    *portal.Inlet
	route string
	codec wire.Codec
}

func (s *Server) opOutletCreate(raw cbor.RawMessage) (any, *Error) {
	var a portalArgs
	if err := decodeArgs(OpOutletCreate, raw, &a); err != nil {
		return nil, err
	}
	addr, err := serviceAddr(a.Name)
	if err != nil {
		return nil, err
	}
	if _, _, e := net.SplitHostPort(a.Target); e != nil {
		return nil, errorf(CodeBadRequest, "outlet %s: bad target %q: want HOST:PORT", clip(a.Name), clip(a.Target))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.services[a.Name]; ok || s.outlets[a.Name] != nil {
		return nil, errorf(CodeExists, "service %q already exists on node %s", clip(a.Name), s.node.Name())
	}
	o, e := portal.NewOutlet(s.node, addr, portal.OutletConfig{Target: a.Target, Logger: s.log})
	if e != nil {
		return nil, errorf(CodeFailed, "outlet %s: %v", clip(a.Name), e)
	}
	// Public, as a service: reachable through every listener and relay.
	if e := s.node.Allow(engine.AllFlows, addr); e != nil {
		o.Close()
		return nil, errorf(CodeFailed, "outlet %s: %v", clip(a.Name), e)
	}
	s.outlets[a.Name] = &outlet{o, a.Target}
	s.log.Info("tcp outlet created", "name", a.Name, "target", a.Target)
	return outletInfo(a.Name, a.Target, o), nil
}

func outletInfo(name, target string, o *portal.Outlet) PortalInfo {
	st := o.Stats()
	return PortalInfo{Kind: "outlet", Name: name, Target: target, Sessions: st.Sessions, Open: st.Open,
		BytesIn: st.BytesIn, BytesOut: st.BytesOut, Failed: st.OpenFailed, Resets: st.Resets,
		SavedIn: st.SavedIn, SavedOut: st.SavedOut}
}

func (s *Server) opOutletList(cbor.RawMessage) (any, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []PortalInfo{}
	for name, o := range s.outlets {
		out = append(out, outletInfo(name, o.target, o.o))
	}
	slices.SortFunc(out, func(a, b PortalInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (s *Server) opOutletDelete(raw cbor.RawMessage) (any, *Error) {
	var a portalArgs
	if err := decodeArgs(OpOutletDelete, raw, &a); err != nil {
		return nil, err
	}
	s.mu.Lock()
	o := s.outlets[a.Name]
	delete(s.outlets, a.Name)
	s.mu.Unlock()
	if o == nil {
		return nil, errorf(CodeNotFound, "no tcp outlet %s on node %s", clip(a.Name), s.node.Name())
	}
	o.o.Close()
	s.log.Info("tcp outlet deleted", "name", a.Name)
	return nil, nil
}

func (s *Server) opInletCreate(raw cbor.RawMessage) (any, *Error) {
	var a portalArgs
	if err := decodeArgs(OpInletCreate, raw, &a); err != nil {
		return nil, err
	}
	route, e := wire.ParseRoute(a.Route)
	if e != nil {
		return nil, errorf(CodeBadRequest, "inlet: bad route %q: %v", clip(a.Route), e)
	}
	codec, e := wire.ParseCodec(a.Compress)
	if e != nil {
		return nil, errorf(CodeBadRequest, "inlet: %v", e)
	}
	in, e := portal.NewInlet(s.node, portal.InletConfig{Listen: a.Listen, Route: route, Compress: codec, Logger: s.log})
	if e != nil {
		return nil, errorf(CodeFailed, "inlet on %s: %v", clip(a.Listen), e)
	}
	s.mu.Lock()
	if s.closing.Load() || s.inlets[in.Addr()] != nil {
		s.mu.Unlock()
		in.Close()
		return nil, errorf(CodeExists, "an inlet on %s already exists on node %s", in.Addr(), s.node.Name())
	}
	i := &inlet{in, route.String(), codec}
	s.inlets[in.Addr()] = i
	s.mu.Unlock()
	s.log.Info("tcp inlet created", "listen", in.Addr(), "route", route.String(), "compress", codec.String())
	return inletInfo(i), nil
}

func inletInfo(i *inlet) PortalInfo {
	st := i.in.Stats()
	info := PortalInfo{Kind: "inlet", Listen: i.in.Addr(), Route: i.route, Sessions: st.Sessions, Open: st.Open,
		BytesIn: st.BytesIn, BytesOut: st.BytesOut, Failed: st.OpenFailed, Resets: st.Resets,
		SavedIn: st.SavedIn, SavedOut: st.SavedOut}
	if i.codec != wire.Plain {
		info.Compress = i.codec.String()
	}
	return info
}

func (s *Server) opInletList(cbor.RawMessage) (any, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []PortalInfo{}
	for _, i := range s.inlets {
		out = append(out, inletInfo(i))
	}
	slices.SortFunc(out, func(a, b PortalInfo) int { return strings.Compare(a.Listen, b.Listen) })
	return out, nil
}

func (s *Server) opInletDelete(raw cbor.RawMessage) (any, *Error) {
	var a portalArgs
	if err := decodeArgs(OpInletDelete, raw, &a); err != nil {
		return nil, err
	}
	s.mu.Lock()
	i := s.inlets[a.Listen]
	delete(s.inlets, a.Listen)
	s.mu.Unlock()
	if i == nil {
		return nil, errorf(CodeNotFound, "no tcp inlet on %s on node %s", clip(a.Listen), s.node.Name())
	}
	i.in.Close()
	s.log.Info("tcp inlet deleted", "listen", a.Listen)
	return nil, nil
}

// CreateOutlet starts a TCP outlet at the service name that connects
// each session to target.
func (c *Client) CreateOutlet(name, target string) (PortalInfo, error) {
	var info PortalInfo
	err := c.call(OpOutletCreate, portalArgs{Name: name, Target: target}, &info, c.timeout)
	return info, err
}

// ListOutlets lists the node's TCP outlets.
func (c *Client) ListOutlets() ([]PortalInfo, error) {
	var list []PortalInfo
	err := c.call(OpOutletList, nil, &list, c.timeout)
	return list, err
}

// DeleteOutlet stops the outlet at the service name.
func (c *Client) DeleteOutlet(name string) error {
	return c.call(OpOutletDelete, portalArgs{Name: name}, nil, c.timeout)
}

// CreateInlet listens on listen (HOST:PORT) and opens a portal session
// along route (text) for each connection.
func (c *Client) CreateInlet(listen, route, compress string) (PortalInfo, error) {
	var info PortalInfo
	err := c.call(OpInletCreate, portalArgs{Listen: listen, Route: route, Compress: compress}, &info, c.timeout)
	return info, err
}

// ListInlets lists the node's TCP inlets.
func (c *Client) ListInlets() ([]PortalInfo, error) {
	var list []PortalInfo
	err := c.call(OpInletList, nil, &list, c.timeout)
	return list, err
}

// DeleteInlet closes the inlet listening on listen.
func (c *Client) DeleteInlet(listen string) error {
	return c.call(OpInletDelete, portalArgs{Listen: listen}, nil, c.timeout)
}
