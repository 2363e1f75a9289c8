package relay

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// Service limits and names.
const (
	DefaultServiceName = "forwarding_service" // where NewService starts the service
	ForwardPrefix      = "forward_to_"        // forward_to_NAME: the forwarder for relay NAME
	DefaultMaxRelays   = 1024                 // relays per service
	DefaultMaxPerLink  = 16                   // relays registered over one link
)

// ServiceConfig configures a forwarding service. Its zero value means
// defaults.
type ServiceConfig struct {
	Address    wire.Address // the service's local address; zero means DefaultServiceName
	MaxRelays  int          // relays live at once; 0 means DefaultMaxRelays
	MaxPerLink int          // relays registered over one link; 0 means DefaultMaxPerLink
	Logger     *slog.Logger // nil means the node's
}

// Service is a relay node's forwarding service: a worker that takes
// registrations and runs a forward_to_NAME forwarder for each.
//
// Registration. A register request (proto.go) names the relay. The
// service answers on the request's return route with the forwarding
// address and the name's secret, and starts forward_to_NAME, an
// engine.Forwarder whose Route is the request's return route: the
// relay node's connection worker for the link the request came in on,
// then the registrant's relay worker. A request from the network must
// name, first on its return route, the link it came over (what a
// transport puts there): a registration can point a forwarder only back
// at its own link, so the forwarder's right to leave over a link (a
// Forwarder's configured route, engine/access.go) is used for nothing
// else.
//
// Ownership. The first registration of a name gets a fresh 128-bit
// secret (or keeps the one it offers, if it offers one: a registrant
// back after this node restarted). The service keeps only the secret's
// SHA-256, with the name, while the registration is live. A registration
// of a live name with its secret replaces the forwarder's route at once
// (a registrant back over a new connection before this node has seen its
// old one close); without it, or with another, it is refused: "relay
// name NAME is taken". When the link a registration came over goes down
// (engine.Node.WatchLinks), its forwarder stops and the name is free.
// Everything is in memory: a restarted relay node has no names, and a
// registrant registering again with its secret gets its name back.
//
// Access. The service and every forward_to_NAME are public: NewService
// allows them for engine.AllFlows, since reaching the registrant through
// the relay node is what a relay is for. What traffic through a relay may
// reach on the registrant is the registrant's business (see Relay).
//
// Its methods are safe for concurrent use. The registry is the worker's;
// a mutex guards it only for Relays and Close, which run elsewhere.
type Service struct {
	node *engine.Node
	addr wire.Address
	cfg  ServiceConfig
	log  *slog.Logger

	mu     sync.Mutex
	names  map[string]*entry
	closed bool
}

// entry is one live registration.
type entry struct {
	name  string
	fwd   wire.Address
	hash  [sha256.Size]byte // of the secret
	flow  uint64            // the link it came over; 0 if local
	route wire.Route
}

// RelayInfo describes a live registration (Service.Relays).
type RelayInfo struct {
	Name    string
	Forward wire.Address // forward_to_NAME
	Route   wire.Route   // where the forwarder sends: back over the registrant's link
	Flow    uint64       // the link it was registered over; 0 for a local registrant
}

// NewService starts a forwarding service on node at cfg.Address
// (DefaultServiceName) and makes it public (engine.AllFlows).
func NewService(node *engine.Node, cfg ServiceConfig) (*Service, error) {
	if !cfg.Address.IsValid() {
		cfg.Address = wire.LocalAddr(DefaultServiceName)
	}
	if cfg.MaxRelays <= 0 {
		cfg.MaxRelays = DefaultMaxRelays
	}
	if cfg.MaxPerLink <= 0 {
		cfg.MaxPerLink = DefaultMaxPerLink
	}
	if cfg.Logger == nil {
		cfg.Logger = node.Logger()
	}
	s := &Service{node: node, addr: cfg.Address, cfg: cfg, log: cfg.Logger.With("service", cfg.Address.Value()), names: make(map[string]*entry)}
	if err := node.StartWorker(serviceWorker{s}, s.addr); err != nil {
		return nil, err
	}
	err := node.Allow(engine.AllFlows, s.addr)
	if err == nil {
		err = node.WatchLinks(s.addr)
	}
	if err != nil {
		node.StopWorker(s.addr)
		return nil, err
	}
	return s, nil
}

// Address returns the service's address.
func (s *Service) Address() wire.Address { return s.addr }

// Relays returns the live registrations, by name.
func (s *Service) Relays() []RelayInfo {
	s.mu.Lock()
	out := make([]RelayInfo, 0, len(s.names))
	for _, e := range s.names {
		out = append(out, RelayInfo{Name: e.name, Forward: e.fwd, Route: slices.Clone(e.route), Flow: e.flow})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b RelayInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Close stops the service and every forwarder it started. It is
// idempotent. A handler must not call it (it waits for the workers'
// loops).
func (s *Service) Close() error {
	s.node.StopWorker(s.addr) // after this, no handler of the service runs
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var fwds []wire.Address
	for _, e := range s.names {
		fwds = append(fwds, e.fwd)
	}
	clear(s.names)
	s.mu.Unlock()
	for _, a := range fwds {
		s.node.StopWorker(a)
	}
	return nil
}

// serviceWorker is the service's worker.
type serviceWorker struct{ s *Service }

// HandleMessage takes a registration, an unregistration or a link event.
func (w serviceWorker) HandleMessage(ctx *engine.Context, m *wire.Message) error {
	s := w.s
	if m.Flags()&wire.FlagError != 0 {
		return nil // a refusal notice for an answer: nothing answers it
	}
	if !m.FromNetwork() {
		if ev, err := engine.ParseLinkEvent(m); err == nil {
			if ev.Kind == engine.LinkDown {
				s.linkDown(ctx, ev.Link.Flow)
			}
			return nil
		}
	}
	if m.ReturnLen() == 0 {
		return ErrBadRequest // no one to answer
	}
	req, err := parseRequest(m.Payload())
	a := answer{op: req.op, id: req.id}
	switch {
	case err != nil:
		a.status, a.text = statusBad, err.Error()
		var ne *NameError
		if errors.As(err, &ne) {
			a.status = statusBadName
		}
		if a.op == 0 {
			a.op = opRegister
		}
	case req.op == opRegister:
		s.register(ctx, m, req, &a)
	default:
		s.unregister(ctx, req, &a)
	}
	p, err := a.Append(make([]byte, 0, a.Len()))
	if err != nil {
		return err
	}
	if err := m.SetPayload(p); err != nil {
		return err
	}
	return ctx.Reply(m)
}

// register handles a register request, filling in the answer.
func (s *Service) register(ctx *engine.Context, m *wire.Message, req request, a *answer) {
	flow := m.Meta().Flow
	route := m.Return()
	if flow != 0 && !s.cameOver(route[0], flow) {
		a.status, a.text = statusBad, "the return route does not start at the link the request came over"
		return
	}
	fwd := wire.LocalAddr(ForwardPrefix + req.name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		a.status, a.text = statusFailed, "the relay service is closing"
		return
	}
	old := s.names[req.name]
	if old != nil && !s.alive(old) {
		s.drop(ctx, old) // its link went down and we missed the event
		old = nil
	}
	var secret []byte
	switch {
	case old != nil:
		h := sha256.Sum256(req.secret)
		if len(req.secret) == 0 || subtle.ConstantTimeCompare(h[:], old.hash[:]) != 1 {
			a.status, a.text = statusTaken, "relay name "+req.name+" is taken"
			return
		}
		secret = req.secret
	default:
		if len(s.names) >= s.cfg.MaxRelays {
			s.sweep(ctx)
		}
		if len(s.names) >= s.cfg.MaxRelays {
			a.status, a.text = statusLimit, "the relay service has its limit of relays"
			return
		}
		secret = req.secret
		if len(secret) == 0 {
			secret = make([]byte, secretLen)
			rand.Read(secret)
		}
	}
	if (old == nil || old.flow != flow) && s.perLink(flow) >= s.cfg.MaxPerLink {
		a.status, a.text = statusLimit, "this connection has registered its limit of relays"
		return
	}
	if old != nil {
		if old.flow == flow && old.route.Equal(route) {
			a.status, a.forward, a.secret = statusOK, fwd.Value(), secret
			return // the same registration again: nothing changes
		}
		s.drop(ctx, old) // stale: replaced at once
	}
	if err := s.node.StartWorker(engine.Forwarder{Route: route}, fwd); err != nil {
		a.status, a.text = statusFailed, "cannot start "+fwd.Value()+": "+err.Error()
		return
	}
	if err := s.node.Allow(engine.AllFlows, fwd); err != nil {
		ctx.StopWorker(fwd)
		a.status, a.text = statusFailed, "cannot start "+fwd.Value()+": "+err.Error()
		return
	}
	s.names[req.name] = &entry{name: req.name, fwd: fwd, hash: sha256.Sum256(secret), flow: flow, route: route}
	a.status, a.forward, a.secret = statusOK, fwd.Value(), secret
	s.log.Info("relay registered", "relay", req.name, "forward", fwd.Value(), "route", route.String(), "flow", flow, "replaced", old != nil)
}

// unregister handles an unregister request: the secret must match.
func (s *Service) unregister(ctx *engine.Context, req request, a *answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.names[req.name]
	if e == nil {
		a.status, a.text = statusUnknown, "no relay "+req.name
		return
	}
	h := sha256.Sum256(req.secret)
	if len(req.secret) == 0 || subtle.ConstantTimeCompare(h[:], e.hash[:]) != 1 {
		a.status, a.text = statusTaken, "relay name "+req.name+" is taken"
		return
	}
	s.drop(ctx, e)
	a.status, a.forward = statusOK, e.fwd.Value()
	s.log.Info("relay unregistered", "relay", req.name)
}

// linkDown frees the names registered over the link.
func (s *Service) linkDown(ctx *engine.Context, flow uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.names {
		if e.flow == flow && flow != 0 {
			s.drop(ctx, e)
			s.log.Info("relay gone: its connection closed", "relay", e.name, "flow", flow)
		}
	}
}

// drop stops e's forwarder and frees its name. Under s.mu.
func (s *Service) drop(ctx *engine.Context, e *entry) {
	if s.names[e.name] == e {
		delete(s.names, e.name)
	}
	ctx.StopWorker(e.fwd)
}

// perLink counts the live registrations made over the link. Under s.mu.
func (s *Service) perLink(flow uint64) int {
	n := 0
	for _, e := range s.names {
		if e.flow == flow {
			n++
		}
	}
	return n
}

// alive reports whether e's link is still up: the service normally
// learns a link went down from its event, but an event that found the
// mailbox full is dropped, so a name about to be refused is checked
// against the node's links. Under s.mu.
func (s *Service) alive(e *entry) bool {
	if e.flow == 0 {
		return true
	}
	for _, l := range s.node.Links() {
		if l.Flow == e.flow {
			return true
		}
	}
	return false
}

// sweep drops every registration whose link is gone. Under s.mu.
func (s *Service) sweep(ctx *engine.Context) {
	up := make(map[uint64]bool)
	for _, l := range s.node.Links() {
		up[l.Flow] = true
	}
	for _, e := range s.names {
		if e.flow != 0 && !up[e.flow] {
			s.drop(ctx, e)
		}
	}
}

// cameOver reports whether a, the first address of a request's return
// route, names the link of flow flow: the address its transport put there.
func (s *Service) cameOver(a wire.Address, flow uint64) bool {
	for _, l := range s.node.Links() {
		if l.Flow == flow {
			return l.Addr == a
		}
	}
	return false
}
