package portal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// Defaults for zero config fields.
const (
	// DefaultWindow is what a session takes in flight from its peer:
	// 1 MiB, four chunks, so the reader is not stopped waiting for the
	// credit of the chunk before. Bulk through the portal benchmarks
	// (HOPWIRE_BIN=old|new go test -bench 'PortalBulk/(two|three)$'
	// ./cmd/hopwire, interleaved, 2 vCPUs) went from 495-500 to 547-551
	// MB/s through two nodes and from 241-317 to 373-382 MB/s through
	// three with 1 MiB instead of 256 KiB; 4 MiB was apart from 1 MiB by
	// noise only (655-735 vs 646-720, 486-531 vs 453-483). Only a busy
	// session holds it.
	DefaultWindow = 1 << 20
	// DefaultChunk is the most bytes one DATA message carries: 255 KiB,
	// so that a chunk and its header fit a 256 KiB pooled buffer. Across
	// processes fewer, larger chunks cost fewer system calls a byte: bulk
	// through the portal benchmarks (go test -bench PortalBulk
	// ./cmd/hopwire, 3 rounds interleaved with the old binary, 2 vCPUs)
	// went from 467 to 596 MB/s through two nodes and from 291 to
	// 396 MB/s through three with 255 KiB instead of 63 KiB; 127 KiB
	// was no better than 63. In one process (BenchmarkChunk) the sizes
	// were apart by noise only. An idle session holds no buffer, and a
	// busy one at most its window, whatever the chunk.
	DefaultChunk = 256<<10 - 1<<10
)

// side is what an Inlet and an Outlet share: the node, the app context
// their goroutines send from, the link watcher, the open sessions and the
// counters. Its methods are safe for concurrent use.
type side struct {
	node   *engine.Node
	pool   *wire.Pool
	app    *engine.App  // sends from goroutines off the loops; receives nothing
	watch  wire.Address // a worker told of links going down
	log    *slog.Logger
	window int // receive window announced to peers
	chunk  int // largest DATA payload sent, and announced as taken

	ctx    context.Context // cancelled by close: dials in flight stop
	cancel context.CancelFunc

	mu       sync.Mutex
	sessions map[*session]struct{}
	closed   bool
	wg       sync.WaitGroup // every goroutine of the side's; Add under mu or a session's mu, never after close

	stats counters
}

// DefaultKeepAlive is how often an idle session makes sure its peer is
// still there (sideConfig.keepAlive).
const DefaultKeepAlive = 30 * time.Second

// sideConfig is what InletConfig and OutletConfig have in common.
type sideConfig struct {
	window, chunk int
	keepAlive     time.Duration // 0 means DefaultKeepAlive, < 0 never
	log           *slog.Logger
}

func newSide(node *engine.Node, cfg sideConfig, kind string) (*side, error) {
	window, chunk, log := cfg.window, cfg.chunk, cfg.log
	if cfg.keepAlive == 0 {
		cfg.keepAlive = DefaultKeepAlive
	}
	if window == 0 {
		window = DefaultWindow
	}
	if chunk == 0 {
		chunk = DefaultChunk
	}
	if window < minWindow || window > maxWindow || chunk < minChunk || chunk > maxChunk ||
		1+chunk+2*(2+wire.MaxAddressLen) > node.Pool().MaxFrame() {
		return nil, ErrBadConfig
	}
	if log == nil {
		log = node.Logger()
	}
	s := &side{
		node:     node,
		pool:     node.Pool(),
		log:      log.With("portal", kind),
		window:   window,
		chunk:    chunk,
		sessions: make(map[*session]struct{}),
	}
	app, err := node.NewContext(randomAddr())
	if err != nil {
		return nil, err
	}
	s.app = app
	s.watch = randomAddr()
	if err := node.StartWorker(engine.WorkerFunc(s.linkEvent), s.watch); err != nil {
		app.Close()
		return nil, err
	}
	if err := node.WatchLinks(s.watch); err != nil {
		node.StopWorker(s.watch)
		app.Close()
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.keepAlive > 0 {
		s.wg.Add(1)
		go s.keepAlive(cfg.keepAlive)
	}
	return s, nil
}

// keepAlive is the side's goroutine that finds sessions whose peer is
// gone without a word: a CLOSE or RESET lost on the way (refused by an
// overloaded node between) would leave this side's session, and its
// socket, open for ever. Every interval it sends a PROBE to the peer of
// each session it has heard nothing from since the last round. A live
// peer answers (its credit total) or ignores it; a peer session that is
// gone is an unknown address to its node, whose refusal notice ends this
// one (HandleMessage), as does a send refused for any reason but
// backpressure. One goroutine and one small message per idle session a
// round: no timer per session.
func (sd *side) keepAlive(every time.Duration) {
	defer sd.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-sd.ctx.Done():
			return
		case <-t.C:
		}
		var quiet []*session
		sd.mu.Lock()
		for s := range sd.sessions {
			if !s.heard.Swap(false) {
				quiet = append(quiet, s)
			}
		}
		sd.mu.Unlock()
		for _, s := range quiet {
			s.probePeer()
		}
	}
}

// randomAddr returns a local address of 128 random bits in hex: a
// session's, which nobody can guess, though everyone behind one relay
// shares the link it is allowed for.
func randomAddr() wire.Address {
	var b [16]byte
	rand.Read(b[:])
	return wire.LocalAddr(hex.EncodeToString(b[:]))
}

// add enters s among the open sessions and counts one goroutine for it
// (its dialer or reader), unless the side is closed.
func (sd *side) add(s *session) bool {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if sd.closed {
		return false
	}
	sd.sessions[s] = struct{}{}
	sd.stats.sessions.Add(1)
	sd.stats.open.Add(1)
	return true
}

func (sd *side) remove(s *session) {
	sd.mu.Lock()
	if _, ok := sd.sessions[s]; ok {
		delete(sd.sessions, s)
		sd.stats.open.Add(^uint64(0))
	}
	sd.mu.Unlock()
}

// linkEvent is the watcher's handler: a link gone down ends the sessions
// that used it. It runs on a loop and does not block.
func (sd *side) linkEvent(_ *engine.Context, m *wire.Message) error {
	if m.FromNetwork() {
		return nil // link events are local; anything else is not one
	}
	ev, err := engine.ParseLinkEvent(m)
	if err != nil || ev.Kind != engine.LinkDown {
		return nil
	}
	var hit []*session
	sd.mu.Lock()
	for s := range sd.sessions {
		if s.link.Load() == ev.Link.Flow {
			hit = append(hit, s)
		}
	}
	sd.mu.Unlock()
	for _, s := range hit {
		sd.stats.linkDowns.Add(1)
		s.end(endReset, 0, "link down: "+ev.Link.Addr.String())
	}
	return nil
}

// send builds a message of payload along route from the address ret and
// sends it from the side's app context. Off the loops only: it may wait
// for room (engine.Config.SendTimeout, the transport's SendWait).
func (sd *side) send(route, ret wire.Route, payload []byte) error {
	m, err := sd.pool.Build(route, ret, payload)
	if err != nil {
		return err
	}
	return sd.app.Forward(m)
}

// ctlWait bounds how long a control message (everything but DATA) is
// retried while the way out pushes back: a transport's queue full of
// other sessions' data refuses it, and losing an EOF or a CREDIT would
// leave its session hanging.
const ctlWait = 5 * time.Second

// sendCtl is send for a control message: it is small and rebuilt, so a
// refusal for backpressure is retried, backing off from 100 µs to 20 ms,
// for up to ctlWait, or until done closes. Off the loops only.
func (sd *side) sendCtl(done <-chan struct{}, route, ret wire.Route, payload []byte) error {
	deadline := time.Now().Add(ctlWait)
	pause := 100 * time.Microsecond
	for {
		err := sd.send(route, ret, payload)
		if err == nil || !errors.Is(err, engine.ErrBackpressure) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-done:
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, 20*time.Millisecond)
	}
}

// close ends every session, waits for every goroutine of the side's, and
// stops the watcher and the app context. Idempotent.
func (sd *side) close() {
	sd.mu.Lock()
	if sd.closed {
		sd.mu.Unlock()
		sd.wg.Wait()
		return
	}
	sd.closed = true
	all := make([]*session, 0, len(sd.sessions))
	for s := range sd.sessions {
		all = append(all, s)
	}
	sd.mu.Unlock()
	sd.cancel()
	for _, s := range all {
		s.end(endClose, kindClose, "portal closed")
	}
	sd.wg.Wait()
	sd.node.StopWorker(sd.watch)
	sd.app.Close()
}

// printable makes text from the network fit for a log line.
func printable(p []byte) string {
	if len(p) > maxText {
		p = p[:maxText]
	}
	return strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(p), "\uFFFD"))
}
