package portal

import (
	"log/slog"
	"net"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// DefaultDialTimeout bounds an outlet's dial of its target.
const DefaultDialTimeout = 5 * time.Second

// OutletConfig configures an Outlet. Its zero value means defaults, but
// Target, which it needs.
type OutletConfig struct {
	Target      string        // HOST:PORT every session connects to
	DialTimeout time.Duration // bounds that connect; 0 means DefaultDialTimeout
	Window      int           // bytes a session takes in flight from its inlet; 0 means DefaultWindow
	Chunk       int           // most bytes a DATA message carries; 0 means DefaultChunk
	KeepAlive   time.Duration // how often an idle session checks its peer is there; 0 means DefaultKeepAlive, < 0 never
	Logger      *slog.Logger  // nil means the node's
}

// Outlet is a worker that, for each session an inlet opens to it,
// connects to its target and carries the stream both ways. Its methods
// are safe for concurrent use.
type Outlet struct {
	side   *side
	addr   wire.Address
	target string
	dial   time.Duration
}

// NewOutlet starts an outlet at addr on node. Like any worker it is
// reachable from the network only where the caller allows it:
// node.Allow(listener.Flow(), addr) for the inlets that come through
// that listener. Each session it opens is a worker of its own at a random
// address, allowed only for the link its OPEN came in over. The caller
// closes the outlet before the node.
func NewOutlet(node *engine.Node, addr wire.Address, cfg OutletConfig) (*Outlet, error) {
	if cfg.Target == "" {
		return nil, ErrNoTarget
	}
	if cfg.DialTimeout < 0 {
		return nil, ErrBadConfig
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	sd, err := newSide(node, sideConfig{cfg.Window, cfg.Chunk, cfg.KeepAlive, cfg.Logger}, "outlet")
	if err != nil {
		return nil, err
	}
	o := &Outlet{side: sd, addr: addr, target: cfg.Target, dial: cfg.DialTimeout}
	if err := node.StartWorker(o, addr); err != nil {
		sd.close()
		return nil, err
	}
	return o, nil
}

// Addr returns the outlet's address.
func (o *Outlet) Addr() wire.Address { return o.addr }

// Stats returns the outlet's counters.
func (o *Outlet) Stats() Stats { return o.side.stats.snapshot() }

// Close stops the outlet: no more sessions open, and every open one is
// closed (its target connection closed, its inlet told). It waits for
// the outlet's goroutines and is idempotent.
func (o *Outlet) Close() error {
	o.side.node.StopWorker(o.addr)
	o.side.close()
	return nil
}

// HandleMessage takes an OPEN: it starts the session's worker, allowed
// for the OPEN's link only, and dials the target in a goroutine, which
// answers OK or ERR. Anything else is counted and dropped. Loop only; it
// does not block.
func (o *Outlet) HandleMessage(ctx *engine.Context, m *wire.Message) error {
	sd := o.side
	if m.Flags()&wire.FlagError != 0 {
		return nil // a notice for an ERR that found nobody
	}
	f, err := parse(m.Payload())
	if err != nil || f.kind != kindOpen || m.ReturnLen() == 0 {
		sd.stats.bad.Add(1)
		return nil
	}
	s := newSession(sd, false)
	s.peer = m.Return()
	s.link.Store(m.Meta().Flow)
	s.sendWindow = int64(f.window)
	s.credit.Store(s.sendWindow)
	s.sendChunk = min(sd.chunk, int(f.chunk))
	s.codec = f.codec // the inlet asks, the outlet follows
	if !sd.add(s) {
		return nil
	}
	if err := sd.node.StartWorker(s, s.addr); err != nil {
		sd.remove(s)
		return err
	}
	if s.isEnded() { // the outlet closed meanwhile, its end's StopWorker too early
		ctx.StopWorker(s.addr)
		return nil
	}
	if flow := m.Meta().Flow; flow != 0 {
		if err := sd.node.Allow(flow, s.addr); err != nil {
			s.end(endReset, 0, "allow: "+err.Error())
			return nil
		}
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return nil
	}
	sd.wg.Add(1)
	s.mu.Unlock()
	go o.connect(s)
	return nil
}

// connect dials the target for s, answers the inlet, and starts the
// session's reader.
func (o *Outlet) connect(s *session) {
	sd := o.side
	d := net.Dialer{Timeout: o.dial}
	c, err := d.DialContext(sd.ctx, "tcp", o.target)
	if err != nil {
		sd.wg.Done()
		s.failOpen("dial: " + err.Error())
		return
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		c.Close()
		sd.wg.Done()
		return
	}
	s.conn = c.(*net.TCPConn)
	s.mu.Unlock()
	var b [okLen + 1]byte
	if err := sd.sendCtl(s.done, s.peer, s.self, appendOK(b[:0], sd.window, sd.chunk, s.codec)); err != nil {
		sd.wg.Done()
		s.end(endReset, 0, "send OK: "+err.Error())
		return
	}
	// The reader is a goroutine of its own, not this one going on: the
	// dial and the send grew this one's stack, which an idle session
	// would keep (the runtime shrinks a stack only while a quarter of it
	// is in use). Its wg.Done is ours.
	go s.readLoop()
}
