package manager

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/fxamacker/cbor/v2"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// op is one operation of the protocol: slow ones wait on the network
// and have a budget of their own (MaxInFlight).
type op struct {
	slow bool
	run  func(s *Server, args cbor.RawMessage) (any, *Error)
}

var ops = map[string]op{
	OpNodeShow:         {run: (*Server).opNodeShow},
	OpServiceStart:     {run: (*Server).opServiceStart},
	OpServiceList:      {run: (*Server).opServiceList},
	OpServiceStop:      {run: (*Server).opServiceStop},
	OpListenerCreate:   {run: (*Server).opListenerCreate},
	OpListenerList:     {run: (*Server).opListenerList},
	OpListenerDelete:   {run: (*Server).opListenerDelete},
	OpConnectionCreate: {run: (*Server).opConnectionCreate, slow: true},
	OpConnectionList:   {run: (*Server).opConnectionList},
	OpConnectionDelete: {run: (*Server).opConnectionDelete},
	OpMessageSend:      {run: (*Server).opMessageSend, slow: true},
	OpRelayCreate:      {run: (*Server).opRelayCreate, slow: true},
	OpRelayList:        {run: (*Server).opRelayList},
	OpRelayDelete:      {run: (*Server).opRelayDelete},
	OpOutletCreate:     {run: (*Server).opOutletCreate},
	OpOutletList:       {run: (*Server).opOutletList},
	OpOutletDelete:     {run: (*Server).opOutletDelete},
	OpInletCreate:      {run: (*Server).opInletCreate},
	OpInletList:        {run: (*Server).opInletList},
	OpInletDelete:      {run: (*Server).opInletDelete},
}

// do runs req's op.
func (s *Server) do(req request) (any, *Error) {
	o, ok := ops[req.Op]
	if !ok {
		s.stats.failed.Add(1)
		return nil, errorf(CodeUnknownOp, "unknown op %q: this node manager knows %s", clip(req.Op), strings.Join(opNames(), ", "))
	}
	body, err := o.run(s, req.Args)
	if err != nil {
		s.stats.failed.Add(1)
	}
	return body, err
}

func opNames() []string {
	names := make([]string, 0, len(ops))
	for n := range ops {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// clip shortens what a client sent for an error text.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Service kinds.
var kinds = map[string]func() engine.Worker{
	"echo":      func() engine.Worker { return engine.Echo{} },
	"hop":       func() engine.Worker { return engine.Hop{} },
	"uppercase": func() engine.Worker { return engine.Uppercase{} },
}

const kindList = "echo, hop or uppercase"

// node.show

func (s *Server) opNodeShow(cbor.RawMessage) (any, *Error) {
	info := NodeInfo{
		Name:        s.node.Name(),
		PID:         os.Getpid(),
		Started:     s.cfg.Started,
		Listeners:   s.listenerInfos(""),
		Services:    s.serviceInfos(),
		Connections: s.connInfos(),
		Counters:    s.counters(),
		Compress:    s.cfg.Compress,
	}
	return info, nil
}

// Counters flattens a Stats struct (the engine's, a transport's) into
// node.show's form: its integer fields, named in snake case (QueueFull is
// queue_full), so a counter added to a Stats shows without more code.
func Counters(stats any) map[string]uint64 {
	v := reflect.ValueOf(stats)
	out := make(map[string]uint64, v.NumField())
	for i := range v.NumField() {
		f, name := v.Field(i), snake(v.Type().Field(i).Name)
		switch f.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			out[name] = uint64(max(f.Int(), 0))
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			out[name] = f.Uint()
		}
	}
	return out
}

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Server) counters() map[string]map[string]uint64 {
	st := s.node.Stats()
	c := map[string]map[string]uint64{}
	if s.cfg.Counters != nil {
		for k, v := range s.cfg.Counters() {
			if v != nil {
				c[k] = v
			}
		}
	}
	c["engine"] = Counters(st)
	c["manager"] = map[string]uint64{
		"requests": s.stats.requests.Load(),
		"foreign":  s.stats.foreign.Load(),
		"busy":     s.stats.busy.Load(),
		"failed":   s.stats.failed.Load(),
	}
	return c
}

// services

func (s *Server) opServiceStart(raw cbor.RawMessage) (any, *Error) {
	var a serviceArgs
	if err := decodeArgs(OpServiceStart, raw, &a); err != nil {
		return nil, err
	}
	if err := s.startService(a.Kind, a.Name); err != nil {
		return nil, err
	}
	return ServiceInfo{Name: a.Name, Kind: a.Kind}, nil
}

// StartService starts a service of kind ("echo", "hop", "uppercase") at
// the local address name, reachable through every listener: what
// service.start does, for the node's own startup. It returns an *Error.
func (s *Server) StartService(kind, name string) error {
	if err := s.startService(kind, name); err != nil {
		return err
	}
	return nil
}

func (s *Server) startService(kind, name string) *Error {
	mk, ok := kinds[kind]
	if !ok {
		return errorf(CodeBadRequest, "unknown service kind %q: use %s", clip(kind), kindList)
	}
	addr, err := serviceAddr(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.services) >= maxServices {
		return errorf(CodeFailed, "the node manager runs %d services already, its limit", maxServices)
	}
	if err := s.node.StartWorker(mk(), addr); err != nil {
		if errors.Is(err, engine.ErrAddressInUse) {
			return errorf(CodeExists, "service %q already exists on node %s", name, s.node.Name())
		}
		return errorf(CodeFailed, "cannot start service %q: %v", name, err)
	}
	if err := s.node.Allow(engine.AllFlows, addr); err != nil {
		s.node.StopWorker(addr)
		return errorf(CodeFailed, "cannot start service %q: %v", name, err)
	}
	s.services[name] = kind
	s.log.Info("service started", "service", name, "kind", kind)
	return nil
}

// serviceAddr checks a service's name and returns its address.
func serviceAddr(name string) (wire.Address, *Error) {
	if name == "" {
		return wire.Address{}, errorf(CodeBadRequest, "a service needs a name")
	}
	if name[0] == '_' || name[0] == '~' {
		return wire.Address{}, errorf(CodeBadRequest, "bad service name %q: names starting with %q are the node's own", clip(name), name[:1])
	}
	addr, err := wire.NewAddress(wire.Local, name)
	if err != nil {
		return wire.Address{}, errorf(CodeBadRequest, "bad service name %q: %v", clip(name), err)
	}
	return addr, nil
}

func (s *Server) opServiceList(cbor.RawMessage) (any, *Error) { return s.serviceInfos(), nil }

func (s *Server) serviceInfos() []ServiceInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ServiceInfo, 0, len(s.services))
	for name, kind := range s.services {
		out = append(out, ServiceInfo{Name: name, Kind: kind})
	}
	slices.SortFunc(out, func(a, b ServiceInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (s *Server) opServiceStop(raw cbor.RawMessage) (any, *Error) {
	var a serviceArgs
	if err := decodeArgs(OpServiceStop, raw, &a); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.services[a.Name]; !ok {
		return nil, errorf(CodeNotFound, "no service %q started by the node manager on node %s", clip(a.Name), s.node.Name())
	}
	delete(s.services, a.Name)
	if err := s.node.StopWorker(wire.LocalAddr(a.Name)); err != nil {
		return nil, errorf(CodeFailed, "cannot stop service %q: %v", a.Name, err)
	}
	s.log.Info("service stopped", "service", a.Name)
	return nil, nil
}

// listeners

// types names the address types the manager knows.
var types = map[string]wire.Type{"tcp": wire.TCP, "udp": wire.UDP, "unix": wire.Unix}

func typeName(t wire.Type) string {
	for name, tt := range types {
		if tt == t {
			return name
		}
	}
	return "type " + strconv.Itoa(int(t))
}

// netType reads a type a client may open listeners and connections of.
func netType(what, typ string) (wire.Type, *Error) {
	if typ != "tcp" && typ != "udp" {
		return 0, errorf(CodeBadRequest, "unknown %s type %q: use tcp or udp", what, clip(typ))
	}
	return types[typ], nil
}

func (s *Server) opListenerCreate(raw cbor.RawMessage) (any, *Error) {
	var a listenerArgs
	if err := decodeArgs(OpListenerCreate, raw, &a); err != nil {
		return nil, err
	}
	return s.listen(a.Type, a.Addr)
}

// Listen opens a listener of typ ("tcp", "udp") at addr (host:port):
// what listener.create does, for the node's own startup. The services
// the manager starts are reachable through it at once. It returns an
// *Error.
func (s *Server) Listen(typ, addr string) (ListenerInfo, error) {
	info, err := s.listen(typ, addr)
	if err != nil {
		return info, err
	}
	return info, nil
}

func (s *Server) listen(typ, addr string) (ListenerInfo, *Error) {
	t, err := netType("listener", typ)
	if err != nil {
		return ListenerInfo{}, err
	}
	if addr == "" {
		return ListenerInfo{}, errorf(CodeBadRequest, "a listener needs an address (host:port)")
	}
	l, e := s.node.Listen(t, addr)
	if e != nil {
		if errors.Is(e, engine.ErrNoTransport) {
			return ListenerInfo{}, errorf(CodeFailed, "node %s has no %s transport", s.node.Name(), typ)
		}
		return ListenerInfo{}, errorf(CodeFailed, "%v", e)
	}
	s.mu.Lock()
	s.listeners[l.Addr()] = l
	s.mu.Unlock()
	s.log.Info("listener opened", "addr", l.Addr().String())
	return ListenerInfo{Type: typ, Addr: l.Addr().Value(), Flow: l.Flow()}, nil
}

func (s *Server) opListenerList(raw cbor.RawMessage) (any, *Error) {
	var a listenerArgs
	if err := decodeArgs(OpListenerList, raw, &a); err != nil {
		return nil, err
	}
	if _, ok := types[a.Type]; !ok && a.Type != "" {
		return nil, errorf(CodeBadRequest, "unknown listener type %q: use tcp, udp or unix", clip(a.Type))
	}
	return s.listenerInfos(a.Type), nil
}

// listenerInfos lists the node's listeners of typ ("": all), oldest first.
func (s *Server) listenerInfos(typ string) []ListenerInfo {
	out := []ListenerInfo{}
	for _, l := range s.node.Listeners() {
		info := ListenerInfo{Type: typeName(l.Type), Addr: l.Addr.Value(), Flow: l.Flow}
		if typ == "" || info.Type == typ {
			out = append(out, info)
		}
	}
	return out
}

func (s *Server) opListenerDelete(raw cbor.RawMessage) (any, *Error) {
	var a listenerArgs
	if err := decodeArgs(OpListenerDelete, raw, &a); err != nil {
		return nil, err
	}
	if _, ok := types[a.Type]; !ok && a.Type != "" {
		return nil, errorf(CodeBadRequest, "unknown listener type %q: use tcp or udp", clip(a.Type))
	}
	if a.Addr == "" {
		return nil, errorf(CodeBadRequest, "which listener? give its address")
	}
	if a.Addr == s.lis.Addr().Value() || a.Addr == s.lis.Addr().String() {
		return nil, errorf(CodeBadRequest, "%s is the node manager's own listener: it cannot be deleted", a.Addr)
	}
	s.mu.Lock()
	var found []wire.Address
	for addr, l := range s.listeners {
		if isClosed(l.Done()) {
			delete(s.listeners, addr)
			continue
		}
		if (a.Addr == addr.Value() || a.Addr == addr.String()) && (a.Type == "" || typeName(addr.Type()) == a.Type) {
			found = append(found, addr)
		}
	}
	if len(found) > 1 {
		s.mu.Unlock()
		return nil, errorf(CodeBadRequest, "there are %d listeners at %s: say which type", len(found), a.Addr)
	}
	var l engine.Listener
	if len(found) == 1 {
		l = s.listeners[found[0]]
		delete(s.listeners, found[0])
	}
	s.mu.Unlock()
	if l == nil {
		for _, info := range s.listenerInfos(a.Type) {
			if info.Addr == a.Addr {
				return nil, errorf(CodeNotFound, "listener %s was not opened by the node manager: it cannot delete it", a.Addr)
			}
		}
		return nil, errorf(CodeNotFound, "no listener at %s on node %s", clip(a.Addr), s.node.Name())
	}
	if err := l.Close(); err != nil {
		return nil, errorf(CodeFailed, "closing listener %s: %v", a.Addr, err)
	}
	s.log.Info("listener closed", "addr", l.Addr().String())
	return nil, nil
}

func isClosed(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// connections

func (s *Server) opConnectionCreate(raw cbor.RawMessage) (any, *Error) {
	var a connArgs
	if err := decodeArgs(OpConnectionCreate, raw, &a); err != nil {
		return nil, err
	}
	t, err := netType("connection", a.Type)
	if err != nil {
		return nil, err
	}
	if a.Addr == "" {
		return nil, errorf(CodeBadRequest, "a connection needs an address (host:port)")
	}
	c, e := s.node.Connect(t, a.Addr)
	if e != nil {
		if errors.Is(e, engine.ErrNoTransport) {
			return nil, errorf(CodeFailed, "node %s has no %s transport", s.node.Name(), a.Type)
		}
		return nil, errorf(CodeFailed, "connecting to %s: %v", clip(a.Addr), e)
	}
	s.mu.Lock()
	s.conns[c.Addr()] = c
	s.mu.Unlock()
	s.log.Info("connection opened", "conn", c.Addr().String(), "peer", a.Addr)
	return ConnInfo{Addr: c.Addr().String(), Type: a.Type, Peer: a.Addr, Dialed: true}, nil
}

func (s *Server) opConnectionList(cbor.RawMessage) (any, *Error) { return s.connInfos(), nil }

// connInfos lists the node's links but the manager's own clients',
// sorted by address.
func (s *Server) connInfos() []ConnInfo {
	out := []ConnInfo{}
	for _, l := range s.node.Links() {
		if l.Spawner == s.lis.Flow() {
			continue
		}
		out = append(out, ConnInfo{Addr: l.Addr.String(), Type: typeName(l.Type), Peer: l.Peer, Dialed: l.Dialed})
	}
	slices.SortFunc(out, func(a, b ConnInfo) int { return strings.Compare(a.Addr, b.Addr) })
	return out
}

func (s *Server) opConnectionDelete(raw cbor.RawMessage) (any, *Error) {
	var a connArgs
	if err := decodeArgs(OpConnectionDelete, raw, &a); err != nil {
		return nil, err
	}
	addr, e := wire.ParseAddress(a.Addr)
	if e != nil {
		return nil, errorf(CodeBadRequest, "bad connection address %q: %v", clip(a.Addr), e)
	}
	s.mu.Lock()
	for k, c := range s.conns {
		if isClosed(c.Done()) {
			delete(s.conns, k)
		}
	}
	c := s.conns[addr]
	delete(s.conns, addr)
	s.mu.Unlock()
	if c == nil {
		return nil, errorf(CodeNotFound, "no connection %s opened by the node manager on node %s", clip(a.Addr), s.node.Name())
	}
	if err := c.Close(); err != nil {
		return nil, errorf(CodeFailed, "closing connection %s: %v", a.Addr, err)
	}
	s.log.Info("connection closed", "conn", addr.String())
	return nil, nil
}

// messages

func (s *Server) opMessageSend(raw cbor.RawMessage) (any, *Error) {
	var a sendArgs
	if err := decodeArgs(OpMessageSend, raw, &a); err != nil {
		return nil, err
	}
	route, e := wire.ParseRoute(a.Route)
	if e != nil {
		return nil, errorf(CodeBadRequest, "bad route %q: %v", clip(a.Route), e)
	}
	timeout := min(DefaultSendTimeout, s.maxSend)
	if a.Timeout != 0 {
		if a.Timeout > uint64(s.maxSend/time.Millisecond) {
			return nil, errorf(CodeBadRequest, "a timeout of %d ms is over the limit of %v", a.Timeout, s.maxSend)
		}
		timeout = time.Duration(a.Timeout) * time.Millisecond
	}
	// A context of its own: Request is for one goroutine at a time, and
	// a late reply then finds no one rather than the next request.
	app, e := s.node.NewContext(wire.LocalAddr("_msg-" + strconv.FormatUint(s.msgSeq.Add(1), 10)))
	if e != nil {
		return nil, errorf(CodeFailed, "cannot send: %v", e)
	}
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		app.Close()
		return nil, errClosing
	}
	s.sending[app] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sending, app)
		s.mu.Unlock()
		app.Close()
	}()

	r, e := app.Request(route, a.Payload, timeout)
	if s.closing.Load() {
		if r != nil {
			r.Release()
		}
		return nil, errClosing
	}
	var be *engine.BounceError
	switch {
	case errors.Is(e, engine.ErrTimeout):
		return nil, errorf(CodeFailed, "no reply from %s within %v", route, timeout)
	case errors.As(e, &be):
		return nil, errorf(CodeFailed, "the message to %s was dropped: %v", route, be.Err)
	case e != nil:
		return nil, errorf(CodeFailed, "sending to %s: %v", route, e)
	}
	reply := sendReply{Payload: bytes.Clone(r.Payload())}
	r.Release()
	return reply, nil
}
