package portal

import (
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// DefaultOpenTimeout bounds an inlet's wait for its outlet's answer.
const DefaultOpenTimeout = 5 * time.Second

// InletConfig configures an Inlet. Its zero value means defaults, but
// Listen and Route, which it needs.
type InletConfig struct {
	Listen      string        // the TCP address to listen on: "127.0.0.1:6000", ":0"
	Route       wire.Route    // from this node to the outlet: "1#10.0.0.2:4000 => outlet"
	OpenTimeout time.Duration // how long a session waits for the outlet's OK; 0 means DefaultOpenTimeout
	Window      int           // bytes a session takes in flight from its outlet; 0 means DefaultWindow
	Chunk       int           // most bytes a DATA message carries; 0 means DefaultChunk
	KeepAlive   time.Duration // how often an idle session checks its peer is there; 0 means DefaultKeepAlive, < 0 never
	// Compress asks each session to compress its chunks, both ways, with
	// this codec (the outlet follows): for text protocols (HTTP/JSON,
	// Redis, SQL) over a link slower than the CPU compresses. Chunks of
	// under 1 KiB, and chunks that do not shrink by an eighth, go plain.
	// wire.Plain, the zero value, is off.
	Compress wire.Codec
	Logger   *slog.Logger // nil means the node's
}

// Inlet is a TCP listener whose every connection opens a portal session
// along its route to an outlet. Its methods are safe for concurrent use.
type Inlet struct {
	side   *side
	ln     *net.TCPListener
	route  wire.Route
	openTO time.Duration
	codec  wire.Codec
	done   chan struct{} // closed when the accept loop has returned
}

// NewInlet starts listening at cfg.Listen. Each connection accepted
// starts a session worker at a random address, which sends OPEN along
// cfg.Route and waits cfg.OpenTimeout for the outlet's OK; an ERR or no
// answer closes the connection (RST), with the reason logged and counted
// (Stats.OpenFailed). The outlet's messages reach the session as replies:
// its OPEN left over a link, which grants that link the way back to it
// (engine/access.go), so the inlet needs no Allow. The caller closes the
// inlet before the node.
func NewInlet(node *engine.Node, cfg InletConfig) (*Inlet, error) {
	if len(cfg.Route) == 0 {
		return nil, ErrNoRoute
	}
	if err := cfg.Route.Validate(); err != nil {
		return nil, err
	}
	if cfg.OpenTimeout < 0 || cfg.Compress > wire.Zstd {
		return nil, ErrBadConfig
	}
	if cfg.OpenTimeout == 0 {
		cfg.OpenTimeout = DefaultOpenTimeout
	}
	sd, err := newSide(node, sideConfig{cfg.Window, cfg.Chunk, cfg.KeepAlive, cfg.Logger}, "inlet")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		sd.close()
		return nil, err
	}
	i := &Inlet{side: sd, ln: ln.(*net.TCPListener), route: cfg.Route, openTO: cfg.OpenTimeout, codec: cfg.Compress, done: make(chan struct{})}
	go i.accept()
	return i, nil
}

// Addr returns the address the inlet listens on, with the port it bound.
func (i *Inlet) Addr() string { return i.ln.Addr().String() }

// Stats returns the inlet's counters.
func (i *Inlet) Stats() Stats { return i.side.stats.snapshot() }

// Close stops listening and closes every session (the client's
// connection closed, the outlet told). It waits for the inlet's
// goroutines and is idempotent.
func (i *Inlet) Close() error {
	i.ln.Close()
	<-i.done
	i.side.close()
	return nil
}

// accept is the accept loop's goroutine. A failing accept (out of
// descriptors) backs off, 5 ms growing to 100 ms, rather than spin.
func (i *Inlet) accept() {
	defer close(i.done)
	var backoff time.Duration
	for {
		c, err := i.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), 100*time.Millisecond)
			i.side.log.Warn("portal inlet accept failed", "err", err, "backoff", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		i.start(c)
	}
}

// start opens a session for c: its worker, its timer, its OPEN.
func (i *Inlet) start(c *net.TCPConn) {
	sd := i.side
	s := newSession(sd, true)
	s.conn = c
	// Made stopped and armed once the worker runs: a timer that fired
	// before would end a session whose worker then starts.
	s.timer = time.AfterFunc(time.Hour, func() { s.failOpen("no answer from the outlet in " + i.openTO.String()) })
	s.timer.Stop()
	if !sd.add(s) {
		s.timer.Stop()
		c.SetLinger(0)
		c.Close()
		return
	}
	if err := sd.node.StartWorker(s, s.addr); err != nil {
		s.timer.Stop()
		sd.remove(s)
		c.SetLinger(0)
		c.Close()
		return
	}
	if s.isEnded() { // the inlet closed meanwhile, its end's StopWorker too early
		sd.node.StopWorker(s.addr)
		return
	}
	s.timer.Reset(i.openTO)
	var b [openLen + 1]byte
	if err := sd.sendCtl(s.done, i.route, s.self, appendOpen(b[:0], sd.window, sd.chunk, i.codec)); err != nil {
		s.failOpen("send OPEN: " + err.Error())
	}
}
