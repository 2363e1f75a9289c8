package manager

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/engine/relay"
	"github.com/hopwire/hopwire/wire"
)

// Tunables of a Server.
const (
	// MaxInFlight is how many requests of each class a server handles
	// at once: quick ones (everything but connection.create and
	// message.send) and ones that wait on the network (those two). Past
	// it a request is answered busy at once. The classes have budgets
	// of their own so that slow requests never crowd out quick ones.
	MaxInFlight = 32
	// DefaultSendTimeout is how long message.send waits for a reply
	// when the request names no timeout; MaxSendTimeout is the longest
	// it may name.
	DefaultSendTimeout = 5 * time.Second
	MaxSendTimeout     = 60 * time.Second
	// closeWait bounds how long Close waits for requests in flight.
	closeWait = 5 * time.Second
	// maxServices bounds the services a manager starts.
	maxServices = 1024
)

// Addr is the node manager's address on its node. Names that start with
// "_" are the node's own; services may not take them.
var Addr = wire.LocalAddr("_manager")

// Config configures a Server.
type Config struct {
	// Socket is the Unix socket path the manager listens on. Its
	// directory must be the owner's alone (mode 0700): the transport
	// makes the socket 0600 only after binding it.
	Socket string
	// Started is when the node started, for node.show.
	Started time.Time
	// Counters, if set, returns the embedder's counters for node.show
	// (e.g. "tcp": {...}, "udp": {...}), beside the engine's and the
	// manager's. It is called from the manager's goroutines.
	Counters func() map[string]map[string]uint64
	// Forwarding, if set, is the node's forwarding service: relay.list
	// lists the relays registered at it.
	Forwarding *relay.Service
	// Logger is where the manager logs; nil means the node's.
	Logger *slog.Logger
	// Compress names the codec the node's TCP connections offer ("s2",
	// "zstd"; "" for none), for node.show.
	Compress string
}

// Server is a node's node manager: it answers requests that come in
// over its Unix listener, and nothing else. Its methods are safe for
// concurrent use.
type Server struct {
	node *engine.Node
	cfg  Config
	log  *slog.Logger
	lis  engine.Listener
	app  *engine.App

	fast, slow chan struct{} // budgets of requests in flight, by class
	handlers   sync.WaitGroup
	recvDone   chan struct{}
	closing    atomic.Bool
	closeOnce  sync.Once

	msgSeq  atomic.Uint64
	maxSend time.Duration // MaxSendTimeout; tests make it short

	mu        sync.Mutex                       // guards what follows
	services  map[string]string                // name -> kind, those the manager started
	listeners map[wire.Address]engine.Listener // those opened through the manager
	conns     map[wire.Address]engine.Conn     // those opened through the manager
	relays    map[string]*relay.Relay          // those created through the manager, by name
	outlets   map[string]*outlet               // by service name
	inlets    map[string]*inlet                // by the address they listen on
	sending   map[*engine.App]struct{}         // message.send contexts waiting for replies

	stats struct {
		requests, foreign, busy, failed atomic.Uint64
	}
}

// Errors of Serve.
var (
	ErrNoUnix   = errors.New("manager: the node has no Unix transport (start one with transports/unix.New before Serve)")
	ErrNoSocket = errors.New("manager: Config.Socket is empty")
	ErrOpenDir  = errors.New("manager: the socket's directory may be reached by others than its owner (make it mode 0700)")
	errClosing  = errorf(CodeFailed, "the node manager is shutting down")
	errNodeBusy = errorf(CodeBusy, "the node manager is busy (%d requests in flight): try again", MaxInFlight)
)

// Serve starts the node manager of node: it listens on cfg.Socket with
// the node's Unix transport and answers the requests that come in
// through that listener only. Close stops it; closing the node does too.
func Serve(node *engine.Node, cfg Config) (*Server, error) {
	if cfg.Socket == "" {
		return nil, ErrNoSocket
	}
	fi, err := os.Stat(filepath.Dir(cfg.Socket))
	if err != nil {
		return nil, fmt.Errorf("manager: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is %v", ErrOpenDir, filepath.Dir(cfg.Socket), fi.Mode().Perm())
	}
	log := cfg.Logger
	if log == nil {
		log = node.Logger()
	}
	s := &Server{
		node:      node,
		cfg:       cfg,
		log:       log.With("component", "manager"),
		fast:      make(chan struct{}, MaxInFlight),
		slow:      make(chan struct{}, MaxInFlight),
		recvDone:  make(chan struct{}),
		maxSend:   MaxSendTimeout,
		services:  make(map[string]string),
		listeners: make(map[wire.Address]engine.Listener),
		conns:     make(map[wire.Address]engine.Conn),
		relays:    make(map[string]*relay.Relay),
		outlets:   make(map[string]*outlet),
		inlets:    make(map[string]*inlet),
		sending:   make(map[*engine.App]struct{}),
	}
	s.app, err = node.NewContext(Addr)
	if err != nil {
		return nil, fmt.Errorf("manager: %w", err)
	}
	s.lis, err = node.Listen(wire.Unix, cfg.Socket)
	if err != nil {
		s.app.Close()
		if errors.Is(err, engine.ErrNoTransport) {
			return nil, ErrNoUnix
		}
		return nil, fmt.Errorf("manager: %w", err)
	}
	// Default deny does the rest: no other flow reaches the manager.
	if err := node.Allow(s.lis.Flow(), Addr); err != nil {
		s.lis.Close()
		s.app.Close()
		return nil, fmt.Errorf("manager: %w", err)
	}
	go s.receive()
	s.log.Info("node manager listening", "socket", s.lis.Addr().Value())
	return s, nil
}

// Socket returns the path the manager listens on.
func (s *Server) Socket() string { return s.lis.Addr().Value() }

// Close stops the manager: it stops taking requests, waits (a few
// seconds at most) for those in flight to be answered (a message.send
// waiting for its reply gives up at once), then closes its listener, with
// its clients' connections, and its context. The services, listeners and
// connections the manager started stay; its relays and TCP portals, which
// have goroutines of their own, are closed. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		// Wake the receiver: it sees closing on whatever it gets next.
		s.app.Send(wire.Route{Addr}, nil)
		s.mu.Lock()
		for app := range s.sending {
			app.Send(wire.Route{app.Address()}, nil) // taken for the reply: Request returns
		}
		s.mu.Unlock()
		timer := time.NewTimer(closeWait)
		defer timer.Stop()
		select {
		case <-s.recvDone:
		case <-timer.C:
		}
		done := make(chan struct{})
		go func() { s.handlers.Wait(); close(done) }()
		select {
		case <-done:
		case <-timer.C:
			s.log.Warn("node manager closed with requests still in flight")
		}
		// Last, so that the answers above could leave: closing the
		// listener closes its connections (and removes the socket).
		s.lis.Close()
		s.app.Close()
		s.mu.Lock()
		for _, i := range s.inlets {
			i.in.Close()
		}
		for _, o := range s.outlets {
			o.o.Close()
		}
		for _, r := range s.relays {
			r.Close()
		}
		s.mu.Unlock()
	})
	return nil
}

// receive takes requests off the manager's context until Close or the
// node's end, and hands each to a handler of its own.
func (s *Server) receive() {
	defer close(s.recvDone)
	for {
		m, err := s.app.Receive(-1)
		if s.closing.Load() {
			if m != nil {
				m.Release()
			}
			return
		}
		if err != nil {
			var be *engine.BounceError
			switch {
			case errors.As(err, &be):
				// A reply that could not go back: its client left.
				s.log.Debug("node manager reply dropped", "err", err)
				continue
			case errors.Is(err, engine.ErrClosed):
				return
			}
			s.log.Debug("node manager receive", "err", err)
			continue
		}
		s.dispatch(m)
	}
}

// dispatch checks where m came from, reads its envelope and starts its
// handler, or answers at once if it cannot be handled.
func (s *Server) dispatch(m *wire.Message) {
	// The engine lets only the Unix listener's flow reach the manager;
	// this is the second lock on the door.
	if o := m.Meta(); o.Flow == 0 || o.Spawner != s.lis.Flow() {
		s.stats.foreign.Add(1)
		s.log.Debug("node manager dropped a request from outside its socket", "flow", o.Flow, "spawner", o.Spawner)
		m.Release()
		return
	}
	s.stats.requests.Add(1)
	req, rerr := decodeRequest(m.Payload())
	if rerr != nil {
		s.reply(m, encodeResponse(nil, rerr))
		return
	}
	op := ops[req.Op]
	budget := s.fast
	if op.slow {
		budget = s.slow
	}
	select {
	case budget <- struct{}{}:
	default:
		s.stats.busy.Add(1)
		s.reply(m, encodeResponse(nil, errNodeBusy))
		return
	}
	s.handlers.Add(1)
	go func() {
		defer s.handlers.Done()
		defer func() { <-budget }()
		var resp []byte
		func() {
			defer func() {
				if r := recover(); r != nil {
					s.log.Error("node manager op panicked", "op", req.Op, "panic", r, "stack", string(debug.Stack()))
					resp = encodeResponse(nil, errorf(CodeFailed, "node manager: %s failed with an internal error", req.Op))
				}
			}()
			resp = encodeResponse(s.do(req))
		}()
		s.reply(m, resp)
	}()
}

// respond is the whole of a request's handling but the transport and the
// budget: request bytes in, response bytes out. FuzzDecodeRequest drives it.
func (s *Server) respond(p []byte) []byte {
	req, rerr := decodeRequest(p)
	if rerr != nil {
		return encodeResponse(nil, rerr)
	}
	return encodeResponse(s.do(req))
}

// reply sends resp back to m's sender, in m, and takes m.
func (s *Server) reply(m *wire.Message, resp []byte) {
	if err := m.SetPayload(resp); err != nil {
		m.SetPayload(encodeResponse(nil, errorf(CodeFailed, "the answer (%d bytes) is too large to send", len(resp))))
	}
	// Reply is safe from several handlers at once: from an app context it
	// is a Turn of the handler's own message and a Forward, which is Send's.
	if err := s.app.Reply(m); err != nil {
		s.log.Debug("node manager reply not sent", "err", err)
	}
}
