package relay

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// Defaults for a zero Config.
const (
	DefaultPingInterval = time.Second
	DefaultPingTimeout  = 3 * time.Second
	DefaultMinBackoff   = 100 * time.Millisecond
	DefaultMaxBackoff   = 5 * time.Second
)

// unregisterWait bounds how long Close waits for the relay node to answer
// its unregistration.
const unregisterWait = time.Second

// eventQueue is how many control messages the relay's worker holds for
// its goroutine; more are dropped (they were not answers it waits for).
const eventQueue = 16

// Config configures a Relay. Name and At are required; the zero value of
// every other field means its default.
type Config struct {
	// Name is the relay's name, [A-Za-z0-9_-]{1,64}: the relay node
	// forwards to it at forward_to_NAME.
	Name string
	// At is the relay node's transport address: "1#127.0.0.1:7000"
	// (wire.ParseAddress).
	At wire.Address
	// Service is the forwarding service's address on the relay node; zero
	// means DefaultServiceName.
	Service wire.Address
	// Allow lists the local workers traffic through the relay may reach:
	// Create allows each for the relay's connection (they need not be
	// public) and the relay's worker lets through only messages for them.
	// Empty means the node's public services (those allowed for
	// engine.AllFlows), and nothing else. See Relay.
	Allow []wire.Address
	// PingInterval is how often the relay pings itself through the relay
	// node; PingTimeout how long without a ping back before it declares
	// the path down. Defaults DefaultPingInterval, DefaultPingTimeout.
	PingInterval, PingTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnection
	// attempts, which doubles from the one to the other, jittered.
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger // nil means the node's
}

func (c *Config) check() error {
	if err := checkName(c.Name); err != nil {
		return err
	}
	if !c.At.IsValid() || c.At.IsLocal() {
		return &ConfigError{Field: "At", Reason: "must be the relay node's transport address, e.g. 1#127.0.0.1:7000"}
	}
	if !c.Service.IsValid() {
		c.Service = wire.LocalAddr(DefaultServiceName)
	}
	for _, a := range c.Allow {
		if !a.IsLocal() {
			return &ConfigError{Field: "Allow", Reason: a.String() + " is not a local worker"}
		}
	}
	c.Allow = slices.Clone(c.Allow)
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = max(DefaultPingTimeout, 2*c.PingInterval)
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		return &ConfigError{Field: "MaxBackoff", Reason: "must be at least MinBackoff"}
	}
	return nil
}

// ConfigError reports a Config field that cannot be used.
type ConfigError struct{ Field, Reason string }

func (e *ConfigError) Error() string { return "relay: Config." + e.Field + " " + e.Reason }

// State is a relay's state.
type State uint8

// States.
const (
	StateDown         State = iota // the path is down; waiting to try again
	StateReconnecting              // connecting to the relay node and registering
	StateUp                        // registered; pings come back
	StateClosed                    // Close was called, or the node closed
)

func (s State) String() string {
	switch s {
	case StateUp:
		return "up"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	}
	return "down"
}

// Info describes a relay (Relay.Info).
type Info struct {
	Name        string
	Forward     wire.Address // forward_to_NAME, on the relay node
	At          wire.Address // the relay node
	State       State
	Since       time.Time // when it entered State
	LastError   string    // the last failure, "" if none
	LastErrorAt time.Time
}

// Stats counts what a relay did.
type Stats struct {
	Registrations uint64 // successful registrations, the first included
	Reconnects    uint64 // successful registrations after a drop
	Pings         uint64 // pings sent through the relay node
	Pongs         uint64 // pings that came back
	Forwarded     uint64 // messages through the relay let on to a local worker
	Refused       uint64 // messages through the relay dropped: for a worker the relay does not allow
}

type counters struct {
	registrations, reconnects, pings, pongs, forwarded, refused atomic.Uint64
}

// Relay makes its node reachable through a relay node it dials out to:
// traffic sent to forward_to_NAME on the relay node arrives here.
//
// What traffic through a relay may reach. It arrives over the relay's own
// connection to the relay node, one the node dials for the relay alone
// and no one else sends over, so it carries that connection's origin and
// the engine lets it reach only what that origin may (engine/access.go):
// public services, the workers in Config.Allow (Create allows them for
// the connection), the relay's worker, and workers allowed for the
// transport's dialed flow (tcp.Transport.DialedFlow: do not allow that
// for anything internal on a node that registers a relay). Never an app
// context, a portal's session, the node manager or a worker of the
// embedder's: none of them sends over the relay's connection, so none is
// on a reply path of it. On top of that, the relay's worker lets a
// message on only if every local address at the front of its route is
// allowed (Config.Allow, or public if Allow is empty), so a public hop
// cannot carry it on to anything else.
//
// Two things the relay does not stop, both the engine's rules for any
// remote traffic: past the first address that is not local, the engine
// decides, so a public hop on this node carries relay traffic on over a
// connection the node dialed, named by its id (1#<32 hex>), as it would
// for anyone who reaches the hop; and a peer that has had a reply through
// the relay node may then send over the relay node's connection to this
// node directly (the reply path it was granted there), past the relay's
// worker: such traffic still has the relay connection's origin here and
// reaches only what is listed above.
//
// Liveness. The relay pings itself through forward_to_NAME every
// PingInterval; no ping back for PingTimeout, or its connection closing,
// and the path is down: it reconnects with exponential backoff (MinBackoff
// doubling to MaxBackoff, jittered) and registers again with the name's
// secret, which the relay node accepts whether it still has the name
// (the stale route is replaced) or has restarted since (the name is free).
//
// Its methods are safe for concurrent use.
type Relay struct {
	node *engine.Node
	cfg  Config
	log  *slog.Logger
	self wire.Address // the relay worker
	app  *engine.App  // sends; never receives
	ids  *mrand.ChaCha8

	events    chan answerOrPong
	closing   chan struct{}
	closeOnce sync.Once
	done      chan struct{}
	stats     counters

	// The goroutine's own.
	secret   []byte
	pingBase uint64
	pingSeq  uint64

	mu   sync.Mutex
	info Info
}

// answerOrPong is what the worker hands the goroutine.
type answerOrPong struct {
	ping bool
	id   uint64
	a    answer
}

// Create connects to the relay node at cfg.At, registers cfg.Name and
// keeps the registration alive until Close. It returns once the first
// registration has succeeded, or with why it did not (a *RefusedError if
// the relay node refused it: ErrTaken, ErrLimit), leaving nothing
// running.
func Create(node *engine.Node, cfg Config) (*Relay, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = node.Logger()
	}
	var seed [32]byte
	rand.Read(seed[:])
	r := &Relay{
		node:    node,
		cfg:     cfg,
		log:     cfg.Logger.With("relay", cfg.Name, "at", cfg.At.String()),
		ids:     mrand.NewChaCha8(seed),
		events:  make(chan answerOrPong, eventQueue),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	r.pingBase = r.ids.Uint64()
	tag := hex.EncodeToString(seed[:8])
	r.self = wire.LocalAddr("_relay_" + cfg.Name + "_" + tag)
	r.info = Info{Name: cfg.Name, At: cfg.At, State: StateReconnecting, Since: time.Now()}
	if err := node.StartWorker(&relayWorker{r: r}, r.self); err != nil {
		return nil, err
	}
	app, err := node.NewContext(wire.LocalAddr("_relay_out_" + cfg.Name + "_" + tag))
	if err != nil {
		node.StopWorker(r.self)
		return nil, err
	}
	r.app = app
	conn, err := r.connect(true)
	if err != nil {
		r.cleanup()
		return nil, err
	}
	r.setState(StateUp, nil)
	go r.run(conn)
	return r, nil
}

// Address returns the relay's worker: where the relay node's
// forward_to_NAME sends.
func (r *Relay) Address() wire.Address { return r.self }

// Info says what state the relay is in.
func (r *Relay) Info() Info {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.info
}

// Stats returns the relay's counters.
func (r *Relay) Stats() Stats {
	s := &r.stats
	return Stats{
		Registrations: s.registrations.Load(),
		Reconnects:    s.reconnects.Load(),
		Pings:         s.pings.Load(),
		Pongs:         s.pongs.Load(),
		Forwarded:     s.forwarded.Load(),
		Refused:       s.refused.Load(),
	}
}

// Done is closed when the relay has stopped: after Close, or once its
// node has closed.
func (r *Relay) Done() <-chan struct{} { return r.done }

// Close unregisters the relay (waiting up to a second for the relay
// node's answer), closes its connection and stops its worker and
// goroutine. It is idempotent and returns when all of that is done; a
// handler must not call it (it waits for the worker's loop).
func (r *Relay) Close() error {
	r.closeOnce.Do(func() { close(r.closing) })
	<-r.done
	return nil
}

// run keeps the registration alive: it watches the path while it is up,
// and reconnects when it goes down. It ends on Close or when the node
// closes.
func (r *Relay) run(conn engine.Conn) {
	defer close(r.done)
	defer r.cleanup()
	for {
		err := r.watch(conn)
		if r.stopping() {
			if !r.nodeClosed() {
				r.unregister(conn)
			}
			conn.Close()
			return
		}
		conn.Close()
		r.log.Warn("relay: path down; reconnecting", "err", err)
		r.setState(StateDown, err)
		for wait := r.cfg.MinBackoff; ; wait = min(2*wait, r.cfg.MaxBackoff) {
			if !r.sleep(jitter(wait)) {
				return
			}
			r.setState(StateReconnecting, nil)
			if conn, err = r.connect(false); err == nil {
				break
			}
			if r.stopping() {
				return
			}
			r.log.Debug("relay: reconnecting failed", "err", err)
			r.setState(StateDown, err)
		}
		r.stats.reconnects.Add(1)
		r.setState(StateUp, nil)
		r.log.Info("relay: registered again", "forward", r.Info().Forward.String())
	}
}

// connect opens a connection to the relay node, lets traffic through it
// reach the relay's worker and Config.Allow, and registers. first makes
// an Allow address that is not running an error (Create's); later, it is
// logged.
func (r *Relay) connect(first bool) (engine.Conn, error) {
	conn, err := r.node.Connect(r.cfg.At.Type(), r.cfg.At.Value())
	if err != nil {
		return nil, err
	}
	if err := r.node.Allow(conn.Flow(), r.self); err != nil {
		conn.Close()
		return nil, err
	}
	for _, a := range r.cfg.Allow {
		if err := r.node.Allow(conn.Flow(), a); err != nil {
			if first {
				conn.Close()
				return nil, err
			}
			r.log.Warn("relay: an allowed worker is not running", "worker", a.String(), "err", err)
		}
	}
	a, err := r.request(conn, opRegister, r.cfg.PingTimeout)
	if err != nil {
		conn.Close()
		return nil, err
	}
	fwd, err := wire.NewAddress(wire.Local, a.forward)
	if err != nil || len(a.secret) != secretLen {
		conn.Close()
		return nil, ErrBadRequest
	}
	r.secret = a.secret
	r.mu.Lock()
	r.info.Forward = fwd
	r.mu.Unlock()
	r.stats.registrations.Add(1)
	return conn, nil
}

// request sends a register or unregister request over conn and waits up
// to wait for its answer. A refusal is a *RefusedError.
func (r *Relay) request(conn engine.Conn, op uint8, wait time.Duration) (answer, error) {
	req := request{op: op, id: r.ids.Uint64(), name: r.cfg.Name, secret: r.secret}
	p, err := req.Append(make([]byte, 0, req.Len()))
	if err != nil {
		return answer{}, err
	}
	if err := r.send(conn, r.cfg.Service, p); err != nil {
		return answer{}, err
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case ev := <-r.events:
			if ev.ping || ev.id != req.id || ev.a.op != op {
				continue // a ping back from before, or not ours
			}
			if ev.a.status != statusOK {
				return answer{}, &RefusedError{Name: r.cfg.Name, Text: ev.a.text, status: ev.a.status}
			}
			return ev.a, nil
		case <-conn.Done():
			return answer{}, ErrLinkDown
		case <-t.C:
			return answer{}, ErrNoAnswer
		case <-r.closing:
			return answer{}, ErrClosed
		case <-r.node.Done():
			return answer{}, ErrClosed
		}
	}
}

// send sends payload to to on the relay node, over conn, with the relay's
// worker as the return route.
func (r *Relay) send(conn engine.Conn, to wire.Address, payload []byte) error {
	m, err := r.node.Pool().Build(wire.Route{conn.Addr(), to}, wire.Route{r.self}, payload)
	if err != nil {
		return err
	}
	return r.app.Forward(m)
}

// watch pings through the relay node while the path is up, and returns
// why it went down (nil on Close).
func (r *Relay) watch(conn engine.Conn) error {
	tick := time.NewTicker(r.cfg.PingInterval)
	defer tick.Stop()
	last := time.Now()
	first := r.pingSeq + 1
	fwd := r.Info().Forward
	var buf [pingLen]byte
	for {
		select {
		case <-conn.Done():
			return ErrLinkDown
		case <-r.closing:
			return nil
		case <-r.node.Done():
			return nil
		case ev := <-r.events:
			if n := ev.id - r.pingBase; ev.ping && n >= first && n <= r.pingSeq {
				r.stats.pongs.Add(1)
				last = time.Now()
			}
		case now := <-tick.C:
			if now.Sub(last) > r.cfg.PingTimeout {
				return ErrPingTimeout
			}
			r.pingSeq++
			r.stats.pings.Add(1)
			if err := r.send(conn, fwd, appendPing(buf[:0], r.pingBase+r.pingSeq)); err != nil {
				r.log.Debug("relay: ping not sent", "err", err)
			}
		}
	}
}

// unregister tells the relay node the name is free, waiting a little for
// its answer. Best effort: closing the connection frees it anyway.
func (r *Relay) unregister(conn engine.Conn) {
	select {
	case <-conn.Done():
		return
	default:
	}
	if _, err := r.request(conn, opUnregister, min(unregisterWait, r.cfg.PingTimeout)); err != nil && !errors.Is(err, ErrClosed) {
		r.log.Debug("relay: unregistering", "err", err)
	}
}

// control is the worker's hand-off of a control message's payload (it
// runs on the worker's loop, so it must not block).
func (r *Relay) control(p []byte) {
	var ev answerOrPong
	if id, ok := parsePing(p); ok {
		ev = answerOrPong{ping: true, id: id}
	} else if a, err := parseAnswer(p); err == nil {
		a.secret = slices.Clone(a.secret)
		ev = answerOrPong{id: a.id, a: a}
	} else {
		return
	}
	select {
	case r.events <- ev:
	default:
	}
}

// cleanup stops the worker and the app context; the node may be closed.
func (r *Relay) cleanup() {
	r.node.StopWorker(r.self)
	r.app.Close()
	r.setState(StateClosed, nil)
}

func (r *Relay) setState(s State, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.info.State != s {
		r.info.State, r.info.Since = s, now
	}
	if err != nil {
		r.info.LastError, r.info.LastErrorAt = err.Error(), now
	}
}

// stopping reports whether Close was called or the node closed.
func (r *Relay) stopping() bool {
	select {
	case <-r.closing:
		return true
	default:
		return r.nodeClosed()
	}
}

func (r *Relay) nodeClosed() bool {
	select {
	case <-r.node.Done():
		return true
	default:
		return false
	}
}

// sleep waits d, or until Close or the node's closing (then false).
func (r *Relay) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.closing:
		return false
	case <-r.node.Done():
		return false
	}
}

// jitter returns a wait between d/2 and d.
func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}
