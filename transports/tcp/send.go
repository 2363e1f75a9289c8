package tcp

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hopwire/hopwire/ring"
	"github.com/hopwire/hopwire/wire"
)

// The write side.
//
// Frames wait in a bounded MPSC ring (many senders, one writer). Whoever
// holds the writer role (an atomic flag) pops a batch and writes it with
// one writev(2) on the connection's own descriptor: a dup of gnet's
// socket, kept out of Go's poller, whose closing waits for a writev under
// way (wfd, writev.go).
//
//   - A sender that finds the role free takes it and writes at once
//     (direct): the frame is on the socket before Send returns, with no
//     hand-off to another goroutine. This is the latency path. A direct
//     writer never waits: on EAGAIN (socket buffer full), after a few
//     batches, or when sends are coming in a burst (the last write was
//     less than burstGap ago), it hands the role to the connection's
//     flusher goroutine.
//   - The flusher (started on the first hand-off, one per connection)
//     writes batches until the queue is empty, waiting in poll(2) when
//     the socket is full, and lingers a few scheduler rounds before it
//     gives the role back, so a stream of sends keeps it writing batches
//     without a wake-up per frame. This is the throughput path.
//   - A sender that finds the role taken leaves its frame to the holder.
//     pending closes the race: a sender sets it after pushing, the holder
//     clears it before popping and looks at it again after giving the
//     role back, so no frame is left behind with nobody to write it.
//
// gnet's own write path (Write, Writev, AsyncWritev) is not used after
// the hello: AsyncWritev allocates a hook and a queue node per
// call and runs on the loop after an eventfd wake-up, and gnet copies
// whatever the socket does not take into an outbound buffer that has no
// bound. gnet keeps the socket for reading and for its lifecycle.
//
// Bounds: QueueLen messages and QueueBytes encoded bytes per connection
// (one frame larger than QueueBytes is let in when the queue is empty).
// A send over either bound waits for the writer to make room, up to
// Config.SendWait on a dialed connection and Config.PeerSendWait on an
// accepted one, then is refused with ErrQueueFull. When the peer stops
// reading, the kernel's buffers fill, then this queue, then senders wait
// (and stop reading their own upstream) and finally are refused and
// counted: memory stays bounded, and the refusal goes back to the sending
// worker as an error.
//
// A refusal makes an open connection congested (congested holds when)
// until its peer makes room. Sends to a congested accepted connection are
// refused at once, without waiting, so its queue only drains: it is
// congested until a send finds the queue below half of both bounds. Sends
// to a dialed one still wait and get in when there is room, so it is
// congested until one does. A refusal that finds the connection congested
// for Config.SlowConsumerTimeout disconnects it. See doc.go, Backpressure.
type outbound struct {
	c         *conn
	q         *ring.MPSC[*wire.Message]
	bytes     atomic.Int64 // encoded bytes queued or in the batch in hand
	congested atomic.Int64 // nanotime of the refusal that made the connection congested; 0 if it is not
	maxBytes  int64

	pending   atomic.Bool  // a sender pushed since the holder last looked
	role      atomic.Bool  // the writer role is held
	lastWrite atomic.Int64 // nanotime when the last writev returned
	readsSeen uint32       // conn.reads at the last writev; the role's holder's

	// Owned by the writer role's holder.
	batch []*wire.Message // [head, n) not yet fully written
	iov   []unix.Iovec    // iov[i] is what is left to write of batch[i]
	size  []int           // full frame size of batch[i]
	head  int
	n     int
	wn    int // result of the last writev
	werr  error

	mu        sync.Mutex // guards the two below
	flusherOn bool
	closed    bool
	wake      chan struct{} // hands the role to the flusher; never more than one pending
}

const (
	maxIOV           = 256                   // frames per writev (IOV_MAX is 1024 on Linux and the BSDs)
	maxDirectBatches = 4                     // batches a direct writer writes before it hands off
	burstGap         = 10 * time.Microsecond // sends closer than this go to the flusher
	lingerRounds     = 32                    // scheduler rounds the flusher waits for more before it gives up the role
)

func (o *outbound) init(c *conn, queueLen, queueBytes int) {
	o.c = c
	o.q = ring.NewMPSC[*wire.Message](queueLen)
	o.maxBytes = int64(queueBytes)
	n := min(maxIOV, o.q.Cap())
	o.batch = make([]*wire.Message, n)
	o.iov = make([]unix.Iovec, n)
	o.size = make([]int, n)
	o.wake = make(chan struct{}, 1)
}

// enqueue queues m's frame. It owns m. It does not allocate, except
// when it disconnects a slow consumer.
func (c *conn) enqueue(m *wire.Message) error {
	if c.closed.Load() {
		return c.t.refuse(m, c.closeError()) // why it closed: a failed dial says so
	}
	// A peer that left its replies unread is not waited for again: the
	// sender is likely a worker that serves every peer.
	congested := c.out.congested.Load() != 0
	relayed := c.relayed(m)
	if congested && c.lis != nil && !relayed && c.stillCongested() {
		return c.queueFull(m)
	}
	saved := 0
	if c.open.Load() && c.codec != wire.Plain {
		m, saved = c.compress(m)
	}
	size := int64(m.Len() + wire.FramePrefixLen)
	if !c.tryPush(m, size) && !c.waitPush(m, size, relayed) {
		return c.queueFull(m)
	}
	if saved > 0 {
		c.io.SavedOut.Add(uint64(saved))
	}
	if congested && c.lis == nil {
		c.out.congested.Store(0) // the dialed peer made room
	}
	c.kick()
	return nil
}

// compress compresses m's payload with the connection's codec where it
// is worth it (wire.Skipper spares incompressible traffic the tries),
// and returns the message to send and the bytes that saved.
func (c *conn) compress(m *wire.Message) (*wire.Message, int) {
	if len(m.Payload()) < c.t.cfg.CompressMin || !c.zskip.Try() {
		return m, 0
	}
	before := m.Len()
	z, ok := c.codec.Compress(m, c.t.cfg.CompressMin)
	if !ok {
		c.zskip.Missed()
		return z, 0
	}
	c.zskip.Shrank()
	return z, before - z.Len()
}

// relayed reports whether m, bound for an accepted connection, came in
// over another link: traffic this node relays (a relay node forwarding
// to the peer that registered, a hop bridging two peers), not a reply of
// its own workers to the peer. It waits for room as on a dialed
// connection (Config.SendWait): pushback along the path, so a stream
// through the node slows down instead of losing messages. The peer that
// does not read is still cut after SlowConsumerTimeout.
func (c *conn) relayed(m *wire.Message) bool {
	o := m.Meta()
	return c.lis != nil && o.Flow != 0 && o.Flow != c.link.Flow()
}

// tryPush puts m on the queue if its bounds and the transport's allow. A
// frame larger than a byte bound goes in alone.
func (c *conn) tryPush(m *wire.Message, size int64) bool {
	o := &c.out
	if total := o.bytes.Add(size); total > o.maxBytes && total != size {
		o.bytes.Add(-size)
		return false
	}
	if all := c.t.queued.Add(size); all > c.t.cfg.MaxQueuedBytes && all != size {
		c.t.queued.Add(-size)
		o.bytes.Add(-size)
		return false
	}
	if !o.q.Push(m) {
		c.t.queued.Add(-size)
		o.bytes.Add(-size)
		return false
	}
	return true
}

// unqueued counts n bytes gone from the queue: written or dropped.
func (o *outbound) unqueued(n int) {
	o.bytes.Add(-int64(n))
	o.c.t.queued.Add(-int64(n))
}

// waitPush retries tryPush for up to Config.SendWait (PeerSendWait on an
// accepted connection) while the writer drains the queue: yield first
// (the writer is often about to run), then sleep a little at a time.
// Draining needs no gnet loop once the connection is open (writes go out
// from senders and the flusher), so a reader waiting here cannot hold up
// the queue it waits on.
func (c *conn) waitPush(m *wire.Message, size int64, relayed bool) bool {
	wait := c.t.cfg.SendWait
	if c.lis != nil && !relayed {
		wait = c.t.cfg.PeerSendWait
	}
	// Not before the handshake: the peer's hello is read by a gnet
	// loop, which may be the very one waiting here.
	if wait <= 0 || !c.open.Load() {
		return false
	}
	c.t.stats.queueWaits.Add(1)
	c.kick() // make sure someone is writing while we wait
	deadline := time.Now().Add(wait)
	for i := 0; ; i++ {
		if i < 16 {
			runtime.Gosched()
		} else {
			time.Sleep(50 * time.Microsecond)
		}
		if c.closed.Load() {
			return false
		}
		if c.tryPush(m, size) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// queueFull refuses m: the queue was full, or the connection congested.
// A refusal makes an open connection congested, and disconnects one that
// has been for SlowConsumerTimeout. (A connection still in its handshake
// is not a slow consumer: nothing is written to it yet.)
func (c *conn) queueFull(m *wire.Message) error {
	c.t.stats.queueFull.Add(1)
	m.Release()
	if c.open.Load() {
		o := &c.out
		now := max(nanotime(), 1) // 0 means not congested
		since := o.congested.Load()
		if since == 0 {
			o.congested.CompareAndSwap(0, now)
		} else if limit := c.t.cfg.SlowConsumerTimeout; limit > 0 && now-since >= int64(limit) {
			c.slowConsumer(time.Duration(now - since))
		}
	}
	return c.errFull
}

// stillCongested reports whether the congested accepted connection still
// is: whether its queue is at or above half of either bound. If not, it
// is no longer congested.
func (c *conn) stillCongested() bool {
	o := &c.out
	since := o.congested.Load()
	if since == 0 {
		return false
	}
	if o.bytes.Load() >= o.maxBytes/2 || o.q.Len() >= o.q.Cap()/2 {
		return true
	}
	o.congested.CompareAndSwap(since, 0)
	return false
}

// slowConsumer disconnects the connection: its queue has been congested
// for d, at least SlowConsumerTimeout. Any goroutine; the first call
// counts and closes, the connection's OnClose logs why.
func (c *conn) slowConsumer(d time.Duration) {
	if c.closed.Load() {
		return
	}
	err := &ConnError{Conn: c.addr.String(), Peer: c.peer, Err: fmt.Errorf("%w: congested for %v", ErrQueueFull, d.Round(time.Millisecond))}
	if !c.setWhy(closeSlow, err) {
		return // closing already, for another reason or from another sender
	}
	c.t.stats.slowConsumers.Add(1)
	c.shutdown(closeSlow, err)
}

// kick makes sure what is queued gets written (or dropped, once closed):
// by this goroutine if the writer role is free, else by its holder.
func (c *conn) kick() {
	o := &c.out
	o.pending.Store(true)
	if o.role.Load() || !o.role.CompareAndSwap(false, true) {
		return
	}
	c.drain(true)
}

// drain runs while the caller holds the writer role, and gives it back
// (or to the flusher) before it returns.
func (c *conn) drain(direct bool) {
	o := &c.out
	for {
		o.pending.Store(false)
		switch {
		case c.closed.Load():
			o.dropAll()
		case c.open.Load():
			if !o.flush(direct) {
				return // the flusher has the role now
			}
		}
		// Not open yet: leave the queue for the handshake's kick.
		o.role.Store(false)
		if !o.pending.Load() || !o.role.CompareAndSwap(false, true) {
			return
		}
	}
}

// flush writes queued frames until the queue is empty. A direct writer
// returns false if it handed the role to the flusher instead.
func (o *outbound) flush(direct bool) bool {
	// A send soon after the last write is a burst, unless the connection
	// read something in between: then it is more likely a reply (a
	// request/reply ping-pong faster than burstGap), and handing it off
	// would only add a wake-up to its latency.
	if direct && nanotime()-o.lastWrite.Load() < int64(burstGap) && o.c.reads.Load() == o.readsSeen && o.handoff() {
		return false
	}
	for batches := 0; ; {
		if o.head == o.n {
			if direct && batches == maxDirectBatches && o.q.Len() > 0 && o.handoff() {
				return false
			}
			if !o.take() {
				if direct || !o.linger() {
					return true
				}
				continue
			}
			batches++
		}
		o.wn, o.werr = 0, nil
		var err error
		if direct {
			err = o.write()
		} else {
			err = o.writeWaiting()
		}
		if o.wn > 0 {
			o.advance(o.wn)
			// The time after the call: a send that comes less than
			// burstGap after it means writing (or getting a P back after
			// the system call, which on a small machine can take as long
			// as the peer takes to answer) does not keep up with the
			// traffic: the flusher takes over and the sender goes on.
			o.lastWrite.Store(nanotime())
			o.readsSeen = o.c.reads.Load()
		}
		switch {
		case err == nil:
			if direct && o.head < o.n && o.handoff() { // short write: the socket is full
				return false
			}
		case err == unix.EAGAIN && direct:
			if o.handoff() {
				return false
			}
			return true // closing: no flusher; drain drops the rest
		default:
			o.c.writeFailed(err)
			return true // closed now: drain drops the rest
		}
	}
}

// take pops the next batch and points the iovecs at its frames.
func (o *outbound) take() bool {
	n := o.q.PopBatch(o.batch[:len(o.batch)])
	o.head, o.n = 0, n
	for i := 0; i < n; i++ {
		f := o.batch[i].Frame()
		o.size[i] = len(f)
		o.iov[i].Base = &f[0]
		o.iov[i].SetLen(len(f))
	}
	return n > 0
}

// advance accounts for n bytes written: frames wholly written are
// released, a frame written in part has its iovec moved on.
func (o *outbound) advance(n int) {
	o.c.io.BytesOut.Add(uint64(n))
	freed, frames := 0, 0
	for n > 0 {
		left := int(o.iov[o.head].Len)
		if n < left {
			f := o.batch[o.head].Frame()
			off := o.size[o.head] - left + n
			o.iov[o.head].Base = &f[off]
			o.iov[o.head].SetLen(len(f) - off)
			break
		}
		n -= left
		freed += o.size[o.head]
		frames++
		o.batch[o.head].Release()
		o.batch[o.head] = nil
		o.head++
	}
	o.unqueued(freed)
	o.c.io.MsgsOut.Add(uint64(frames))
}

// write is one writev of the batch in hand. It never waits: a full
// socket is unix.EAGAIN.
func (o *outbound) write() error {
	w := o.c.wfd
	if !w.enter() {
		return ErrConnClosed
	}
	o.tryWrite(w.fd)
	w.leave()
	return o.werr
}

// writeWaiting writes the batch in hand, waiting for room in the socket
// as long as the connection is open: the flusher's write.
func (o *outbound) writeWaiting() error {
	w := o.c.wfd
	for {
		if !w.enter() {
			return ErrConnClosed
		}
		o.tryWrite(w.fd)
		if o.werr != unix.EAGAIN {
			w.leave()
			return o.werr
		}
		err := w.waitRoom()
		w.leave()
		if err != nil {
			return err
		}
	}
}

// tryWrite is one writev of the batch in hand on descriptor fd.
func (o *outbound) tryWrite(fd int) {
	for {
		o.wn, o.werr = writev(fd, o.iov[o.head:o.n])
		if o.werr != unix.EINTR {
			return
		}
	}
}

// handoff gives the writer role to the flusher, starting it the first
// time. It reports false once the connection is closing: the caller
// keeps the role.
func (o *outbound) handoff() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	if !o.flusherOn {
		o.flusherOn = true
		o.c.t.flushers.Add(1)
		go o.flusher()
	}
	select {
	case o.wake <- struct{}{}:
	default:
		// Only the role's holder hands off, and the flusher takes the
		// previous hand-off before it can give the role back.
		panic("tcp: writer role handed off twice")
	}
	return true
}

// flusher writes for the connection whenever the role is handed to it.
// It ends when the connection closes; no hand-off can come after that
// (shut sets closed under mu before done is closed), but one may be
// pending.
func (o *outbound) flusher() {
	defer o.c.t.flushers.Done()
	for {
		select {
		case <-o.wake:
			o.c.drain(false)
		case <-o.c.done:
			select {
			case <-o.wake:
				o.c.drain(false)
			default:
			}
			return
		}
	}
}

// linger waits a few scheduler rounds for more frames before the flusher
// gives the role back.
func (o *outbound) linger() bool {
	for i := 0; i < lingerRounds; i++ {
		runtime.Gosched()
		if o.q.Len() > 0 {
			return true
		}
		if o.c.closed.Load() {
			return false
		}
	}
	return false
}

// shut stops hand-offs to the flusher: the connection is closing.
func (o *outbound) shut() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
}

// dropAll releases the batch in hand and everything queued, telling
// their senders why (engine.Host.Bounce). Role holder only, once the
// connection is closed.
func (o *outbound) dropAll() {
	dropped, freed := 0, 0
	var why error
	for {
		for ; o.head < o.n; o.head++ {
			freed += o.size[o.head]
			if why == nil {
				why = o.c.closeError()
			}
			o.c.t.host.Bounce(o.batch[o.head], why) // the sender hears why, if it waits
			o.batch[o.head].Release()
			o.batch[o.head] = nil
			dropped++
		}
		n := o.q.PopBatch(o.batch[:len(o.batch)])
		if n == 0 {
			break
		}
		for i := 0; i < n; i++ {
			o.size[i] = o.batch[i].Len() + wire.FramePrefixLen
		}
		o.head, o.n = 0, n
	}
	o.head, o.n = 0, 0
	o.unqueued(freed)
	o.c.t.stats.dropped.Add(uint64(dropped))
}

// writeFailed closes the connection after a write error.
func (c *conn) writeFailed(err error) {
	if c.closed.Load() {
		return // closing already: the error is the descriptor going away
	}
	c.shutdown(closeIO, &ConnError{Conn: c.addr.String(), Peer: c.peer, Err: err})
}

// epoch anchors nanotime's monotonic clock.
var epoch = time.Now()

func nanotime() int64 { return int64(time.Since(epoch)) }
