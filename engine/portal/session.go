package portal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// A session is one TCP connection carried over the route: the client's
// on the inlet, the target's on the outlet. On each side it is an
// engine.Worker at a random address, which takes the peer's messages,
// and up to three goroutines of its own:
//
//   - the reader (reader.go's readLoop) reads the socket straight into
//     pooled messages while it has credit and sends them as DATA from
//     the side's app context; it waits for credit, or for the socket to
//     be readable, holding no buffer;
//   - the writer (writeLoop), started when the handler queues something
//     and ending when the queue is empty, writes DATA payloads to the
//     socket, releases them and returns CREDIT;
//   - the teardown (end), which says goodbye to the peer and stops the
//     worker, once.
//
// The handler runs on the worker's loop and never blocks: it parses,
// keeps DATA and queues it for the writer, adds credit, and ends the
// session on anything out of place.
//
// Ownership: a DATA message the handler keeps is the write queue's, then
// the writer's, which releases it after writing; end releases what is
// still queued. Fields are owned as their comments say; mu guards the
// hand-offs between the handler, the goroutines and end.
type session struct {
	side  *side
	inlet bool
	addr  wire.Address
	self  wire.Route    // [addr]: the return route of what the session sends
	link  atomic.Uint64 // flow of the link the peer's messages come in over; 0 if local or not known yet
	codec wire.Codec    // what the session's DATA is compressed with (DATAZ); set before the reader starts, as sendWindow
	timer *time.Timer   // inlet: OpenTimeout; set before the worker starts

	// Set before the reader starts (the outlet: before the worker starts;
	// the inlet: by the OK's handler, under mu) and then read-only.
	sendWindow int64
	sendChunk  int
	recvWindow int64

	credit    atomic.Int64  // bytes (with msgCost each message) the reader may still send
	held      atomic.Int64  // bytes (with msgCost each) received and not yet written
	creditSig chan struct{} // the handler's word to a reader waiting for credit; capacity 1
	done      chan struct{} // closed by end
	readDone  atomic.Bool   // the reader sent EOF
	writeDone atomic.Bool   // the writer wrote the peer's EOF (CloseWrite)
	stopping  atomic.Bool   // the worker is being stopped (Shutdown): end does not stop it
	heard     atomic.Bool   // a message came since the side's last keep-alive round
	rd        reader        // the reader goroutine's

	// Loop-owned (the handler's).
	opened  bool   // inlet: OK taken
	eofIn   bool   // the peer's EOF taken
	seqIn   uint32 // the seq the peer's next DATA must have: a gap is a loss on the way
	granted uint64 // the peer's last CREDIT total

	mu   sync.Mutex
	conn *net.TCPConn // nil until the outlet's dial succeeds
	now  struct {     // writeNow's, under mu
		raw syscall.RawConn
		fn  func(fd uintptr) bool
		p   []byte
		n   int
	}
	peer     wire.Route // route to the peer's session worker; nil until known
	ended    bool
	writing  bool   // a writer goroutine runs
	owed     int64  // credit written and not yet returned, between writers
	returned int64  // credit returned in all (CREDIT's total); the writer's
	probing  bool   // a PROBE's answer is queued
	wq       []item // the write queue, from whead on
	whead    int
}

// item is an entry of the write queue: DATA (m); the peer's EOF or
// CLOSE, or a PROBE to answer (m nil); or kindCredit, the CREDIT that
// DATA the handler wrote itself owes (m nil).
type item struct {
	m    *wire.Message
	kind byte
	off  int // DATA: bytes of the payload's stream bytes already written
}

func newSession(sd *side, inlet bool) *session {
	a := randomAddr()
	return &session{
		side:       sd,
		inlet:      inlet,
		addr:       a,
		self:       wire.Route{a},
		recvWindow: int64(sd.window),
		creditSig:  make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
}

// HandleMessage takes a message from the peer (or a refusal notice from
// a node on the way). It runs on the worker's loop and does not block.
func (s *session) HandleMessage(ctx *engine.Context, m *wire.Message) error {
	if !s.heard.Load() { // a store is a locked instruction; most messages find it set
		s.heard.Store(true)
	}
	if m.Flags()&wire.FlagError != 0 {
		reason := "refused on the way: " + printable(m.Payload())
		if !s.isOpen() {
			s.failOpen(reason)
		} else {
			s.end(endReset, 0, reason)
		}
		return nil
	}
	f, err := parse(m.Payload())
	if err != nil {
		s.bad(err.Error())
		return nil
	}
	switch f.kind {
	case kindData, kindDataZ:
		if !s.isOpen() || s.eofIn || f.kind == kindDataZ && s.codec == wire.Plain {
			s.bad("DATA out of place")
			return nil
		}
		if f.n != s.seqIn {
			// A DATA message was dropped on the way (a full queue on a
			// node between): the stream has a gap, so it ends, loudly.
			s.bad(fmt.Sprintf("DATA lost on the way (got #%d, want #%d)", f.n, s.seqIn))
			return nil
		}
		s.seqIn++
		if f.kind == kindDataZ {
			s.inflate(f.data)
			return nil
		}
		if s.held.Add(cost(len(f.data))) > s.recvWindow {
			s.bad("peer sent past its credit")
			return nil
		}
		ctx.Keep(m)
		if !s.push(item{m: m, kind: kindData}) {
			m.Release()
		}
	case kindProbe:
		if !s.isOpen() {
			s.bad("PROBE out of place")
			return nil
		}
		s.mu.Lock()
		queued := s.probing
		s.probing = true
		s.mu.Unlock()
		if !queued { // one in the queue at a time: a stalled writer does not pile them up
			s.push(item{kind: kindProbe}) // the writer answers, after what it has queued
		}
	case kindCredit:
		if !s.isOpen() {
			s.bad("CREDIT out of place")
			return nil
		}
		if f.total <= s.granted {
			return nil // an old total (a probe's answer crossed a CREDIT)
		}
		delta := int64(f.total - s.granted)
		if delta > s.sendWindow || s.credit.Add(delta) > s.sendWindow {
			s.bad("CREDIT past the window")
			return nil
		}
		s.granted = f.total
		select {
		case s.creditSig <- struct{}{}:
		default:
		}
		s.maybeFinish()
	case kindEOF:
		if s.isOpen() && s.eofIn && f.n == s.seqIn {
			return nil // sent again: the first one's credit had not come back yet
		}
		if !s.isOpen() || s.eofIn {
			s.bad("EOF out of place")
			return nil
		}
		if f.n != s.seqIn {
			s.bad(fmt.Sprintf("DATA lost on the way (EOF after #%d, got up to #%d)", f.n, s.seqIn))
			return nil
		}
		s.eofIn = true
		s.push(item{kind: kindEOF})
	case kindClose:
		if !s.isOpen() {
			s.bad("CLOSE out of place")
			return nil
		}
		s.push(item{kind: kindClose})
	case kindReset:
		s.end(endReset, 0, "peer reset: "+printable(f.data))
	case kindOK:
		if !s.inlet || s.opened {
			s.bad("OK out of place")
			return nil
		}
		s.open(m, f)
	case kindErr:
		if !s.inlet || s.opened {
			s.bad("ERR out of place")
			return nil
		}
		s.failOpen("outlet: " + printable(f.data))
	default:
		s.bad("OPEN sent to a session")
	}
	return nil
}

// inflate takes DATAZ's compressed bytes: it reads the size they decode
// to and counts it against the window before it allocates anything (a
// bomb is a peer past its credit), then decodes them into a message of
// their own for the writer. Loop only.
func (s *session) inflate(z []byte) {
	n, err := s.codec.DecodedLen(z)
	if err != nil || n == 0 {
		s.bad("DATAZ: no decoded size")
		return
	}
	if int64(n) > s.recvWindow || s.held.Add(cost(n)) > s.recvWindow {
		s.bad("peer sent past its credit")
		return
	}
	d, err := s.side.pool.BuildRoom(s.self, nil, dataHdr+n)
	if err != nil {
		s.bad("DATAZ: " + err.Error())
		return
	}
	if err := s.codec.Decode(d.Payload()[dataHdr:], z); err != nil {
		d.Release()
		s.bad("DATAZ: " + err.Error())
		return
	}
	s.side.stats.savedIn.Add(uint64(n - len(z)))
	if !s.push(item{m: d, kind: kindData}) {
		d.Release()
	}
}

// deflate returns m, a DATA message whose chunk the reader read, as
// DATAZ when the session compresses and that shrinks the chunk (a new
// message, m released), else m. An incompressible stream (TLS, media)
// is tried now and then, not every chunk (wire.Skipper). Reader only.
func (s *session) deflate(m *wire.Message) *wire.Message {
	p := m.Payload()
	n := len(p) - dataHdr
	if s.codec == wire.Plain || n < wire.DefaultCompressMin || !s.rd.zskip.Try() {
		return m
	}
	z, err := s.side.pool.BuildRoom(s.peer, s.self, dataHdr+s.codec.Bound(n))
	if err != nil {
		return m
	}
	zp := z.Payload()
	out, ok := s.codec.Encode(zp[dataHdr:], p[dataHdr:])
	if !ok {
		z.Release()
		s.rd.zskip.Missed()
		return m
	}
	s.rd.zskip.Shrank()
	zp[0] = kindDataZ
	copy(zp[1:dataHdr], p[1:dataHdr]) // the seq
	z.SetPayloadLen(dataHdr + len(out))
	m.Release()
	return z
}

// isEnded reports whether end has run.
func (s *session) isEnded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// isOpen reports whether the session has a peer to talk to: always on
// the outlet (its peer learns its address from the OK), after OK on the
// inlet. Loop only.
func (s *session) isOpen() bool { return !s.inlet || s.opened }

// open takes the outlet's OK (inlet, loop only): the OK's return route is
// the way to the outlet's session worker; its window and chunk are what
// the reader may send. Then the reader starts.
func (s *session) open(m *wire.Message, f frame) {
	peer := m.Return()
	if len(peer) == 0 {
		s.bad("OK with no return route")
		return
	}
	s.opened = true
	s.codec = f.codec
	s.link.Store(m.Meta().Flow)
	s.sendWindow = int64(f.window)
	s.credit.Store(s.sendWindow)
	s.sendChunk = min(s.side.chunk, int(f.chunk))
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.peer = peer
	s.side.wg.Add(1)
	s.mu.Unlock()
	s.timer.Stop()
	go s.readLoop()
}

// failOpen ends a session that did not open, with reason logged and
// counted. On the outlet the peer is told (ERR).
func (s *session) failOpen(reason string) {
	s.mu.Lock()
	opened := s.peer != nil && s.inlet
	s.mu.Unlock()
	if opened {
		return // the OK won the race with the timer
	}
	tell := byte(0)
	if !s.inlet {
		tell = kindErr
	}
	if s.end(endReset, tell, reason) {
		s.side.stats.openFailed.Add(1)
		s.side.log.Info("portal session failed to open", "session", s.addr.Value(), "reason", reason)
	}
}

// bad ends the session for a message that breaks the protocol.
func (s *session) bad(reason string) {
	s.side.stats.bad.Add(1)
	s.end(endReset, kindReset, "protocol: "+reason)
}

// push queues it for the writer, starting one if none runs. It reports
// false, taking nothing, if the session has ended. Loop only.
func (s *session) push(it item) bool {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return false
	}
	if it.kind == kindData && !s.writing && s.whead == len(s.wq) && s.conn != nil {
		// Nothing queued and no writer: write here, without waiting, as
		// far as the socket takes it, so a request/response exchange
		// costs no goroutine start (a wake-up) per message, and a stream
		// reaches the socket without waiting for one. The CREDIT this
		// write owes, if any, goes from a writer: the handler may not
		// send (it would wait on the loop).
		p := it.m.Payload()[dataHdr:]
		n := s.writeNow(p)
		s.side.stats.bytesOut.Add(uint64(n))
		if n < len(p) {
			it.off = n // the rest, from the writer, which accounts for the whole
		} else {
			s.owed += cost(n)
			s.held.Add(-cost(n))
			it.m.Release()
			if s.owed < s.recvWindow/4 {
				s.mu.Unlock()
				return true
			}
			it = item{kind: kindCredit}
		}
	}
	s.wq = append(s.wq, it)
	start := !s.writing
	if start {
		s.writing = true
		s.side.wg.Add(1)
	}
	s.mu.Unlock()
	if start {
		go s.writeLoop()
	}
	return true
}

// writeNow writes what of p the socket takes at once, never waiting,
// and returns how much that was (0 on EAGAIN or an error: the writer
// tries again and meets the error, if any, itself). Under s.mu, with no
// writer running.
func (s *session) writeNow(p []byte) int {
	if s.now.raw == nil { // made once: SyscallConn and the callback each allocate
		raw, err := s.conn.SyscallConn()
		if err != nil {
			return 0
		}
		s.now.raw, s.now.fn = raw, s.writeSome
	}
	s.now.p, s.now.n = p, 0
	_ = s.now.raw.Write(s.now.fn)
	s.now.p = nil
	return s.now.n
}

// writeSome is writeNow's RawConn.Write callback: it writes s.now.p from
// s.now.n on until the socket is full, and never waits for room.
func (s *session) writeSome(fd uintptr) bool {
	for s.now.n < len(s.now.p) {
		k, err := syscall.Write(int(fd), s.now.p[s.now.n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil || k <= 0 {
			break
		}
		s.now.n += k
	}
	return true
}

// writeLoop writes the queue to the socket in order until it is empty,
// returning credit when what it owes reaches a quarter of the window and
// before it writes the peer's EOF. What it owes when the queue runs dry
// waits for the next writer: the peer has three quarters of its window
// left, at least, and a session of small exchanges does not send a
// CREDIT for every message.
func (s *session) writeLoop() {
	defer s.side.wg.Done()
	s.mu.Lock()
	owed := s.owed
	s.mu.Unlock()
	for {
		s.mu.Lock()
		if s.ended {
			s.writing = false
			s.mu.Unlock()
			return
		}
		if s.whead == len(s.wq) {
			if cap(s.wq) > 64 {
				s.wq = nil // an idle session holds no long queue
			} else {
				s.wq = s.wq[:0]
			}
			s.whead = 0
			s.writing = false
			s.owed = owed // kept for the next writer: a trickle does not cost a CREDIT a message
			s.mu.Unlock()
			return
		}
		it := s.wq[s.whead]
		s.wq[s.whead] = item{}
		s.whead++
		conn := s.conn
		s.mu.Unlock()

		switch it.kind {
		case kindData:
			p := it.m.Payload()[dataHdr:]
			n := len(p)
			_, err := conn.Write(p[it.off:])
			it.m.Release()
			s.held.Add(-cost(n))
			if err != nil {
				s.end(endReset, kindReset, "write: "+err.Error())
				return
			}
			s.side.stats.bytesOut.Add(uint64(n - it.off))
			if owed += cost(n); owed >= s.recvWindow/4 {
				if !s.sendCredit(owed) {
					return
				}
				owed = 0
			}
		case kindEOF:
			if err := conn.CloseWrite(); err != nil {
				s.end(endReset, kindReset, "shutdown: "+err.Error())
				return
			}
			// The EOF costs msgCost too: its credit coming back tells the
			// peer it arrived (sendEOF).
			if !s.sendCredit(owed + msgCost) {
				return
			}
			owed = 0
			s.writeDone.Store(true)
			s.maybeFinish()
		case kindCredit:
			if !s.sendCredit(owed) {
				return
			}
			owed = 0
		case kindProbe:
			s.mu.Lock()
			s.probing = false
			s.mu.Unlock()
			if !s.sendCredit(owed) {
				return
			}
			owed = 0
		case kindClose:
			s.end(endClose, 0, "peer closed")
			return
		}
	}
}

// sendCredit returns n bytes of credit to the peer; on failure it ends
// the session and reports false.
func (s *session) sendCredit(n int64) bool {
	var b [creditLen]byte
	s.returned += n // writer-only: one writer runs at a time
	if s.returned == 0 {
		return true // nothing ever written: no total to tell a keep-alive PROBE
	}
	if err := s.side.sendCtl(s.done, s.peer, s.self, appendCredit(b[:0], s.returned)); err != nil {
		s.end(endReset, kindReset, "send: "+err.Error())
		return false
	}
	return true
}

// maybeFinish ends the session cleanly once both directions are done:
// the reader sent EOF and all its data was written by the peer (the
// credit is whole again), and the writer wrote the peer's EOF. Nothing
// more can come from the peer then, nor go to it.
func (s *session) maybeFinish() {
	if s.readDone.Load() && s.writeDone.Load() && s.credit.Load() == s.sendWindow {
		s.end(endFinish, 0, "")
	}
}

// How a session ends.
type endHow uint8

const (
	endFinish endHow = iota // both directions done: close the socket
	endClose                // closed: close the socket (FIN), queued data dropped
	endReset                // aborted: reset the socket (RST)
)

// end ends the session once: it stops the reader and the writer, drops
// what is queued, closes the socket (with RST for endReset), and in a
// goroutine of its own tells the peer (tell: ERR, RESET or CLOSE, 0 for
// nothing) and stops the worker. It is safe from any goroutine and does
// not block, and reports whether this call ended it.
func (s *session) end(how endHow, tell byte, reason string) bool {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return false
	}
	s.ended = true
	queued := s.wq[s.whead:]
	s.wq, s.whead = nil, 0
	conn, peer, opened := s.conn, s.peer, s.peer != nil || !s.inlet
	s.side.wg.Add(1)
	s.mu.Unlock()

	close(s.done)
	if s.timer != nil {
		s.timer.Stop()
	}
	for _, it := range queued {
		if it.m != nil {
			it.m.Release()
		}
	}
	if conn != nil {
		if how == endReset {
			conn.SetLinger(0)
		}
		conn.Close()
	}
	if how == endReset && opened && tell != kindErr {
		s.side.stats.resets.Add(1)
	}
	if reason != "" && tell != kindErr {
		s.side.log.Debug("portal session ended", "session", s.addr.Value(), "reason", reason)
	}
	if peer == nil {
		tell = 0
	}
	go s.teardown(tell, reason, peer)
	return true
}

// teardown is end's goroutine.
func (s *session) teardown(tell byte, reason string, peer wire.Route) {
	defer s.side.wg.Done()
	switch tell {
	case kindErr, kindReset:
		s.side.sendCtl(nil, peer, s.self, appendText(nil, tell, reason))
	case kindClose:
		s.side.sendCtl(nil, peer, s.self, []byte{kindClose})
	}
	if !s.stopping.Load() {
		s.side.node.StopWorker(s.addr)
	}
	s.side.remove(s)
}

// probePeer sends the peer a keep-alive PROBE (side.keepAlive). A send
// refused for backpressure is left for the next round; refused for any
// other reason (the peer's address unknown here), it ends the session.
// Off the loops only.
func (s *session) probePeer() {
	s.mu.Lock()
	peer, ended := s.peer, s.ended
	s.mu.Unlock()
	if peer == nil || ended {
		return // not open yet (its open timeout covers it), or over
	}
	if err := s.side.send(peer, s.self, []byte{kindProbe}); err != nil && !errors.Is(err, engine.ErrBackpressure) {
		s.end(endReset, 0, "keep-alive: "+err.Error())
	}
}

// Shutdown ends the session when its worker is stopped from outside (the
// node closing). Loop only.
func (s *session) Shutdown(*engine.Context) {
	s.stopping.Store(true)
	s.end(endReset, kindReset, "node closing")
}

// reader is the reader goroutine's state: its callback for
// syscall.RawConn.Read, made once, and what the callback hands back.
type reader struct {
	seq     uint32       // the next DATA's
	zskip   wire.Skipper // when to try compressing a chunk (deflate)
	consume func(fd uintptr) bool
	fn      func(fd uintptr) bool
	limit   int
	m       *wire.Message
	n       int
	err     error
}

// readLoop is the reader goroutine: while the session has credit it reads
// the socket into pooled messages and sends them as DATA; at EOF it sends
// EOF. Counted in the side's wg by whoever started it.
func (s *session) readLoop() {
	defer s.side.wg.Done()
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	raw, err := conn.SyscallConn()
	if err != nil {
		s.end(endReset, kindReset, "socket: "+err.Error())
		return
	}
	s.rd.fn = s.readable
	s.rd.consume = s.consume
	var pause, waited time.Duration
	for {
		select {
		case <-s.done:
			return
		default:
		}
		avail := s.credit.Load() - msgCost
		if avail <= 0 {
			if !s.awaitCredit() {
				return
			}
			continue
		}
		s.rd.limit = int(min(avail, int64(s.sendChunk)))
		s.rd.m, s.rd.n, s.rd.err = nil, 0, nil
		if err := raw.Read(s.rd.fn); err != nil && s.rd.err == nil {
			s.rd.err = err
		}
		m, n := s.rd.m, s.rd.n
		sent := n // what goes on the wire: fewer bytes if compressed
		if m != nil {
			m = s.deflate(m)
			sent = len(m.Payload()) - dataHdr
		}
		if m == nil {
			if s.rd.err == io.EOF {
				s.sendEOF()
				return
			}
			if !errors.Is(s.rd.err, net.ErrClosed) {
				s.end(endReset, kindReset, "read: "+s.rd.err.Error())
			}
			return
		}
		// The bytes were only peeked: they leave the socket once the
		// message is on its way. A send refused for backpressure (the
		// transport's queue to the next node is full of other sessions'
		// data) leaves them there, and they are read again and sent when
		// there is room: nothing is lost, and nothing is copied twice.
		// Credit is spent before the send: the peer may write the bytes
		// and return it before Forward has returned.
		s.credit.Add(-cost(n))
		if err := s.side.app.Forward(m); err != nil {
			s.credit.Add(cost(n))
			if !errors.Is(err, engine.ErrBackpressure) || !s.pause(&pause, &waited) {
				s.end(endReset, kindReset, "send: "+err.Error())
				return
			}
			s.rd.seq-- // the same DATA, again
			continue
		}
		pause, waited = 0, 0
		if sent < n {
			s.side.stats.savedOut.Add(uint64(n - sent)) // counted once the chunk is on its way, not per try
		}
		s.rd.err = nil
		if err := raw.Read(s.rd.consume); err != nil || s.rd.err != nil {
			s.end(endReset, kindReset, "read: "+errors.Join(err, s.rd.err).Error())
			return
		}
		s.side.stats.bytesIn.Add(uint64(n))
	}
}

// sendEOF tells the peer the socket read EOF, and makes sure it heard:
// the EOF costs msgCost credit, which the peer returns once it has
// written it (shut its socket's write side), so until all the credit is
// back the reader probes, as awaitCredit does, and sends the EOF again
// with each PROBE (the peer ignores one it has had). An EOF refused by an
// overloaded node between is sent again rather than leaving the session
// half-open.
func (s *session) sendEOF() {
	eof := appendEOF(nil, s.rd.seq)
	s.credit.Add(-msgCost)
	if err := s.side.sendCtl(s.done, s.peer, s.self, eof); err != nil {
		s.end(endReset, kindReset, "send: "+err.Error())
		return
	}
	s.readDone.Store(true)
	s.maybeFinish()
	d := probeAfter
	for s.credit.Load() < s.sendWindow {
		t := time.NewTimer(d)
		select {
		case <-s.creditSig:
			t.Stop()
			continue
		case <-s.done:
			t.Stop()
			return
		case <-t.C:
		}
		for _, p := range [][]byte{eof, {kindProbe}} {
			if err := s.side.sendCtl(s.done, s.peer, s.self, p); err != nil {
				s.end(endReset, kindReset, "send: "+err.Error())
				return
			}
		}
		d = min(2*d, probeMax)
	}
}

// awaitCredit waits for credit. A reader that has waited probeAfter
// sends a PROBE, then again after twice as long, up to probeMax: a
// CREDIT lost on the way (refused by an overloaded node between) would
// otherwise leave the session waiting for ever; a slow reader at the far
// end costs a PROBE every probeMax. It reports false if the session ended.
func (s *session) awaitCredit() bool {
	d := probeAfter
	for {
		t := time.NewTimer(d)
		select {
		case <-s.creditSig:
			t.Stop()
			return true
		case <-s.done:
			t.Stop()
			return false
		case <-t.C:
		}
		if err := s.side.sendCtl(s.done, s.peer, s.self, []byte{kindProbe}); err != nil {
			s.end(endReset, kindReset, "send: "+err.Error())
			return false
		}
		d = min(2*d, probeMax)
	}
}

const (
	probeAfter = time.Second
	probeMax   = 8 * time.Second
)

// pushbackWait bounds how long a session retries DATA the way out keeps
// refusing for backpressure before it gives up and resets.
const pushbackWait = 30 * time.Second

// pause waits before DATA refused for backpressure is sent again,
// backing off from 100 µs to 20 ms; it reports false when the session
// ended meanwhile or has waited pushbackWait in all.
func (s *session) pause(d, waited *time.Duration) bool {
	*d = min(max(2**d, 100*time.Microsecond), 20*time.Millisecond)
	if *waited += *d; *waited > pushbackWait {
		return false
	}
	t := time.NewTimer(*d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

// consume is the RawConn.Read callback that takes the s.rd.n bytes last
// peeked out of the socket, without copying them again (MSG_TRUNC).
func (s *session) consume(fd uintptr) bool {
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, fd, 0, uintptr(s.rd.n), syscall.MSG_TRUNC, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			s.rd.err = e
		}
		return true
	}
}

// peek is recv(2) with MSG_PEEK: it copies what the socket holds into p
// and leaves it there.
func peek(fd int, p []byte) (int, error) {
	n, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), syscall.MSG_PEEK, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// readable is the RawConn.Read callback: it peeks at what the socket
// has, up to the limit, straight into a new DATA message's payload (the
// bytes leave the socket when the message has been sent: consume). It asks the
// kernel how much is waiting first (SIOCINQ), so a short read gets a
// buffer of its size, not a chunk's. It reports false, holding nothing,
// when the socket has nothing yet: the poller waits for it then.
func (s *session) readable(fd uintptr) bool {
	want := s.rd.limit
	if q, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ); err == nil && q > 0 && q < want {
		want = q
	}
	m, err := s.side.pool.BuildRoom(s.peer, s.self, dataHdr+want)
	if err != nil {
		s.rd.err = err
		return true
	}
	p := m.Payload()
	for {
		k, err := peek(int(fd), p[dataHdr:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			m.Release()
			return false
		case err != nil:
			m.Release()
			s.rd.err = err
		case k == 0:
			m.Release()
			s.rd.err = io.EOF
		default:
			p[0] = kindData
			binary.BigEndian.PutUint32(p[1:], s.rd.seq)
			s.rd.seq++
			m.SetPayloadLen(dataHdr + k)
			s.rd.m, s.rd.n = m, k
		}
		return true
	}
}
