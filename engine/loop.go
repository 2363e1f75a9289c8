package engine

import (
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hopwire/hopwire/ring"
	"github.com/hopwire/hopwire/wire"
)

// A loop runs handlers, one message at a time. It is an ownership token
// more than a goroutine: its state (running, parked, borrowed) says who
// may run it, and whoever holds it runs its handlers.
//
// Messages reach it two ways. A handler on the loop that forwards to a
// worker on the same loop puts the message on local, a plain FIFO only the
// loop touches, and the loop runs it next: no atomics, no hand-off. Any
// other sender pushes onto inbox, a lock-free MPSC ring, and wakes the loop
// only if it was parked.
//
// Turns. The holder runs the loop in turns: the same-loop work queued,
// then one batch from the inbox (at most batchSize), each message followed
// by the same-loop work it caused (run to completion), then the tasks
// posted to the loop. A turn runs at most turnBudget same-loop dispatches:
// what is left waits on local for the next turn, which starts with it. So
// a worker that keeps sending to itself (a source that re-kicks itself
// when it is pushed back) gets its turn like any other and no more, and
// the inbox and the tasks (StopWorker, Close) are reached within a bounded
// number of dispatches whatever the workers do.
//
// Waits between loops. A handler forwarding to another loop whose inbox
// is full waits for room (sendWaiting): the wait stalls its own loop, so
// its own senders are pushed back in turn and backpressure travels
// upstream. Two loops (or a ring of them) that each wait on the other's
// full inbox would hold each other, every message. So a waiting holder
// keeps its own inbox moving: it takes what has arrived into stash, a
// loop-owned FIFO that comes before the inbox (its messages are older),
// which makes room for a loop that may be waiting on it; that loop's push
// goes in, its turn goes on and takes from its inbox, and ours goes in.
// Only when the waits come round to us through loops that all have a
// full inbox and a full stash (deadlocked) does one give way at once: its
// send is refused (ErrMailboxFull, counted) and its loop goes on. Else
// the wait lasts while the loop waited on, or one it waits on in turn,
// starts turns, and ends after Config.WorkerWait without one (a handler
// that sleeps). A worker's new message (Context.Send) does not wait at
// all, and leaves the last quarter of an inbox to what is already on its
// way (send). This was chosen over the others the issue named: no wait at
// all between loops turned end-to-end backpressure into drops at every
// hop (a hop forwarding a stream onto a busy loop refused 6,620 of 20,000
// that a short wait delivers), and per-pair queues cost a ring per pair of
// loops, O(loops²) memory, and a scan of them per turn.
//
// Borrowing: a sender that finds the loop parked does not wake its
// goroutine; it takes the loop and runs its turns itself, then gives it
// back: an off-loop sender (a transport's reader, an app goroutine) at
// once, another loop at the end of its own turn (flushAll). A message
// read off a socket is then handled, and its reply written, on the
// goroutine that read it, and a ping-pong between two loops stays on one
// thread, with no hand-off: a wake-up of another goroutine, or a message
// another core must fetch, costs more than the hop. A borrow is bounded
// (borrowTurns turns), ends early when tasks wait, handing the rest to
// the loop's goroutine, and does not nest: a borrowed loop wakes the
// loops it sends to.
//
// Faults: whoever holds the loop runs its handlers under a recover (one
// per batch, see runRest), so a handler that panics stops its own worker
// (see fault) and nothing else, whether the loop's goroutine or a
// borrower ran it.
type loop struct {
	// Read by producers on every push; kept apart from the fields the loop
	// writes per message so a push does not miss the cache on them.
	node   *Node
	inbox  *ring.MPSC[delivery]
	state  atomic.Int32 // stRunning, stParked or stBorrowed
	parker parker
	// waitingOn is the loop a handler on this loop waits on for room in
	// its inbox (sendWaiting), nil when none; stashFull says this loop
	// can take no more off its inbox meanwhile. Other loops read both to
	// tell a cycle of waits that none of them can break.
	waitingOn atomic.Pointer[loop]
	stashFull atomic.Bool
	freshRoom int // how full a new message may find the inbox (send)
	_         [128]byte

	// Loop-owned.
	id    int
	local fifo
	stash fifo // inbox messages taken off while a handler waited (sendWaiting); made on the first wait
	batch []delivery
	cache *wire.Cache // messages built and released on this loop
	// budget is how many more same-loop dispatches this turn may run.
	budget int
	// pushedBack is set when a send of the running handler was refused
	// for a full mailbox: the turn's same-loop work ends with what is
	// queued ahead of the handler's re-queued kick, so a source that
	// re-kicks itself when pushed back lets the loop take its inbox (where
	// what frees the room waits) instead of spinning on its kick for the
	// rest of the budget.
	pushedBack bool
	// borrowed is set while a borrower runs the loop: it does not borrow
	// the loops it sends to (handOn), it wakes them. lender is the loop
	// whose goroutine borrowed it, if one did.
	borrowed bool
	lender   *loop
	// out holds what handlers send to each other loop, by its id, until
	// the turn ends (outbox.go); dirty lists those with something in.
	out   []outbox
	dirty []*outbox
	// gaveUpOn is the loop a wait last gave up on, at its turn gaveUpAt:
	// sendWaiting does not wait on it again until it has moved.
	gaveUpOn *loop
	gaveUpAt uint32
	warm     int // what take reads ahead of the handlers, kept so the reads stay
	// The batch's messages not yet dispatched are batch[next:end]: a
	// panic recovered mid-batch resumes there.
	next, end int
	running   *worker // whose handler is running, for the recover to blame
	_         [128]byte

	// turns counts the turns started: a loop waiting on this one sees it
	// move (sendWaiting). Written every turn, so away from what producers
	// read on every push.
	turns atomic.Uint32
	_     [124]byte

	hasTasks atomic.Bool
	taskMu   sync.Mutex
	tasks    []func()
	exited   bool // under taskMu: the loop goroutine has returned
	stopping bool // loop-owned
}

type delivery struct {
	w *worker
	m *wire.Message
}

// Loop states. Only the goroutine leaves stRunning (to park: it is then
// idle, spinning a while, then asleep); a waker moves stParked to
// stRunning and sends the goroutine its token; a borrower moves stParked
// to stBorrowed and back.
const (
	stRunning int32 = iota
	stParked
	stBorrowed
)

// turnBudget bounds the same-loop dispatches of one turn: after it the
// holder takes a batch from the inbox and runs the tasks, whatever the
// workers queue for themselves. A 10-hop chain's burst (64 messages, 11
// dispatches each) spans a few turns; a turn's bookkeeping is two atomic
// loads, so the bound costs the chains nothing measurable.
const turnBudget = 256

// minLocal is the least room of a loop's same-loop FIFO, whatever
// Config.MailboxSize: the FIFO is the loop's own memory, and a small
// mailbox (which bounds what other loops queue) must not make a worker's
// send to itself, a source's kick, fail when a burst of its own fills it.
const minLocal = 4096

// batchSize bounds how many inbox messages a turn takes.
const batchSize = 64

// borrowTurns bounds how many turns a borrower runs before it hands the
// loop back, so a transport's reader is not kept from its sockets for
// long (a worker that keeps sending to itself would otherwise keep it for
// ever).
const borrowTurns = 4

// stashSize bounds what a waiting holder takes off its inbox
// (sendWaiting): a few batches are what a loop waiting on us sends
// before its own turn takes from its inbox and frees room for us.
const stashSize = 16 * batchSize

// An idle loop is parked, free for a sender to borrow, as soon as it has
// nothing to run, and looks at its inbox spinLooks times before its
// goroutine sleeps: a message arriving meanwhile costs no wake-up; after
// it, the loop uses no CPU. Every yieldEvery looks it yields its P, so a
// goroutine that needs it runs: the producer it waits for when loops
// outnumber Ps. Yielding on every look, as the loop first did, spent half
// the CPU of a cross-loop ping-pong on the scheduler's lock
// (runtime.goschedImpl: 56% of samples).
const (
	spinLooks  = 32 * yieldEvery
	yieldEvery = 64
)

func newLoop(n *Node, id, size int) *loop {
	inbox := ring.NewMPSC[delivery](size)
	return &loop{
		node:      n,
		id:        id,
		inbox:     inbox,
		freshRoom: max(1, inbox.Cap()-inbox.Cap()/4),
		local:     newFIFO(max(size, minLocal)),
		batch:     make([]delivery, batchSize),
		cache:     wire.NewCache(n.pool),
		parker:    parker{ch: make(chan struct{}, 1)},
	}
}

// push queues d from an off-loop sender (an app context, a transport's
// reader). If the loop is parked, the sender borrows it and runs the work
// itself; if tasks wait, it wakes the loop's goroutine instead.
func (l *loop) push(d delivery) bool {
	if !l.inbox.Push(d) {
		return false
	}
	l.handOn(nil)
	return true
}

// queue queues d and wakes the loop if it is parked, never running it
// on the caller's goroutine.
func (l *loop) queue(d delivery) bool {
	if !l.inbox.Push(d) {
		return false
	}
	l.wakeUp()
	return true
}

// handOn sees to it that what was just pushed to l runs: nothing to do
// if l's holder runs it; if l is parked, the caller borrows l and runs
// its turns on its own goroutine (no hand-off between goroutines, the
// reason a loop is parked the moment it is idle), or, where tasks wait
// for l's goroutine, wakes it. lender is the loop whose goroutine calls,
// between its turns, or nil for an off-loop sender.
func (l *loop) handOn(lender *loop) {
	if l.state.Load() != stParked {
		return
	}
	if !l.hasTasks.Load() && l.state.CompareAndSwap(stParked, stBorrowed) {
		l.borrow(lender)
		return
	}
	l.wakeUp()
}

func (l *loop) wakeUp() {
	if l.state.Load() == stParked && l.state.CompareAndSwap(stParked, stRunning) {
		l.parker.unpark()
	}
}

// borrow runs the loop on the caller's goroutine, which holds it
// (stBorrowed), then gives it back. A loop run so does not borrow others
// in turn: one goroutine holds at most the loop it owns and one more.
// lender, if not nil, is the loop the caller owns, idle between its
// turns: a forward to it that finds its inbox full must not wait for a
// goroutine that is this one (sendWaiting).
func (l *loop) borrow(lender *loop) {
	l.borrowed, l.lender = true, lender
	for i := 0; i < borrowTurns && !l.hasTasks.Load(); i++ {
		if !l.turn() {
			break
		}
	}
	l.borrowed, l.lender = false, nil
	left := l.local.len() > 0 || l.stash.len() > 0
	l.state.Store(stParked)
	// Work left over, or pushed while we held the loop (which woke
	// nobody): hand it to the loop's goroutine rather than keep the caller.
	if left || l.inbox.Len() > 0 || l.hasTasks.Load() {
		l.wakeUp()
	}
}

// turn runs one turn (see loop): the same-loop work queued, then a batch
// from the stash or the inbox, each message followed by the same-loop
// work it caused, at most turnBudget same-loop dispatches in all. It
// reports whether there was anything to run. Only the loop's holder
// calls it.
func (l *loop) turn() bool {
	n := l.take()
	if n == 0 && l.local.len() == 0 {
		return false
	}
	l.turns.Add(1)
	l.budget = turnBudget
	l.next, l.end = 0, n
	l.runRest()
	l.flushAll()
	return true
}

// take fills batch from the stash, whose messages are older than the
// inbox's, or else from the inbox.
func (l *loop) take() int {
	if l.stash.len() > 0 {
		l.stashFull.Store(false)
		return l.stash.popBatch(l.batch)
	}
	n := l.inbox.PopBatch(l.batch)
	// Another loop wrote these messages last, so each handler would start
	// with misses on its message: the header, and the Message's second
	// cache line (ownership, origin). Reading them all first overlaps
	// those misses, which do not depend on each other.
	for _, d := range l.batch[:n] {
		l.warm += d.m.Hops() + int(d.m.Meta().Flow)
	}
	return n
}

// runRest runs the same-loop work queued, then what is left of the
// batch, each message followed by the same-loop work it caused. A
// handler's panic is recovered (the worker stops, see fault) and the rest
// runs: one deferred recover per batch, not one per message, keeps the
// hot path free of it.
func (l *loop) runRest() {
	for !l.runGuarded() {
	}
}

// runGuarded is runRest's body under the recover. It reports false if a
// panic cut it short. The deferred call looks for a panic only then: on
// the way out of a finished batch it costs a test, not a recover.
func (l *loop) runGuarded() (done bool) {
	defer func() {
		if !done {
			l.recovered(recover())
		}
	}()
	l.drainLocal()
	for l.next < l.end {
		d := l.batch[l.next]
		l.batch[l.next] = delivery{}
		l.next++
		l.dispatch(d)
		l.drainLocal()
	}
	return true
}

// sendWaiting pushes d into to's inbox, which was full, for a handler
// running on l: it waits for room, keeping l's own inbox moving meanwhile
// (see loop: Waits between loops). It gives up, reporting false with d
// not pushed, when neither to nor a loop to waits on in turn has started
// a turn for wait (a handler holds one, or its thread does not run), when
// the node closes, or at once in a cycle of waits that none can break. A
// loop it gave up on is not waited on again until it has moved: a stuck
// loop costs one wait, not one per message. Only l's holder calls it.
func (l *loop) sendWaiting(to *loop, d delivery, wait time.Duration) bool {
	n := l.node
	turns := to.progress()
	if to == l.gaveUpOn && turns == l.gaveUpAt {
		return false
	}
	// A borrowed loop's lender is held by this goroutine too, between its
	// turns: it cannot take its inbox in while we wait, so we do, and it
	// waits on what we wait on (deadlocked follows it).
	lender := l.lender
	l.waitingOn.Store(to)
	defer l.waitingOn.Store(nil)
	if lender != nil {
		lender.waitingOn.Store(to)
		defer lender.waitingOn.Store(nil)
	}
	to.wakeUp() // it may be asleep with what we handed it mid-turn
	var deadline int64
	for i := 0; ; i++ {
		l.stashInbox()
		if lender != nil {
			lender.stashInbox()
		}
		if to.inbox.Push(d) {
			to.wakeUp()
			return true
		}
		switch now := time.Now().UnixNano(); {
		case n.closing.Load(), l.deadlocked(to):
			return false
		case i == 0 || to.progress() != turns:
			turns, deadline = to.progress(), now+int64(wait) // it moves: wait on
		case now > deadline:
			l.gaveUpOn, l.gaveUpAt = to, turns
			return false
		}
		if i < 100 {
			yield() // the receiver is usually about to take a batch
		} else {
			time.Sleep(20 * time.Microsecond)
		}
	}
}

// progress sums the turns of l and of the loops l waits on, one after
// the other (waitingOn): a loop held up by a wait of its own is not
// stuck while the loop at the end of its chain moves.
func (l *loop) progress() uint32 {
	sum := l.turns.Load()
	x := l
	for range l.node.loops {
		if x = x.waitingOn.Load(); x == nil {
			break
		}
		sum += x.turns.Load()
	}
	return sum
}

// deadlocked reports whether l, waiting on to, waits on loops that
// none can make room in: following the waits from to, each loop has a
// full inbox and a full stash, and the waits come back to l (full too) or
// to a loop already passed (a lender waiting, through the loop it
// borrowed, on itself). Then nothing frees a slot until one gives way.
// What it reads moves under it; a cycle it misses ends at the wait's
// deadline, one it sees wrongly costs one refused send.
func (l *loop) deadlocked(to *loop) bool {
	full := func(x *loop) bool { return x.stashFull.Load() && x.inbox.Len() >= x.inbox.Cap() }
	x := to
	for range l.node.loops {
		if !full(x) {
			return false
		}
		next := x.waitingOn.Load()
		switch next {
		case nil:
			return false
		case l:
			return full(l)
		case x, to:
			return true
		}
		x = next
	}
	return true
}

// stashInbox moves what it can of the inbox to the stash.
func (l *loop) stashInbox() {
	if l.stash.buf == nil {
		l.stash = newFIFO(min(stashSize, l.node.cfg.MailboxSize))
	}
	for !l.stash.full() {
		d, ok := l.inbox.Pop()
		if !ok {
			return
		}
		l.stash.push(d)
	}
	l.stashFull.Store(true)
}

// post runs f on the loop. It reports false if the loop has stopped.
func (l *loop) post(f func()) bool {
	l.taskMu.Lock()
	if l.exited {
		l.taskMu.Unlock()
		return false
	}
	l.tasks = append(l.tasks, f)
	l.hasTasks.Store(true)
	l.taskMu.Unlock()
	l.wakeUp()
	return true
}

func (l *loop) run() {
	defer l.node.wg.Done()
	for {
		if l.hasTasks.Load() {
			l.runTasks()
			l.flushAll()
			if l.stopping {
				l.exit()
				return
			}
		}
		if !l.turn() {
			l.idle()
		}
	}
}

// exit ends the loop goroutine's work: tasks posted since the last
// runTasks run now (a StopWorker waits for its own), later posts are
// refused, and what the loop holds is released (drain), so a loop that
// stops early frees its messages without waiting for the others.
func (l *loop) exit() {
	l.taskMu.Lock()
	l.exited = true
	tasks := l.tasks
	l.tasks = nil
	l.taskMu.Unlock()
	for _, f := range tasks {
		f()
	}
	l.flushAll()
	l.drain()
}

func (l *loop) hasExited() bool {
	l.taskMu.Lock()
	defer l.taskMu.Unlock()
	return l.exited
}

func (l *loop) runTasks() {
	l.taskMu.Lock()
	tasks := l.tasks
	l.tasks = nil
	l.hasTasks.Store(false)
	l.taskMu.Unlock()
	for _, f := range tasks {
		f()
	}
}

// drainLocal runs same-loop work until there is none or the turn's
// budget is spent. Only runGuarded calls it, under its recover.
func (l *loop) drainLocal() {
	for l.budget > 0 {
		d, ok := l.local.pop()
		if !ok {
			return
		}
		l.budget--
		l.dispatch(d)
	}
}

func (l *loop) dispatch(d delivery) {
	wk := d.w
	if wk.stopped {
		l.node.stats.undeliverable.Add(1)
		d.m.Release()
		return
	}
	// The handler is lent the message (see Worker): if it neither hands
	// it on nor keeps it, it comes back here, released or not, and goes
	// back to the pool once; a Release by the handler leaves it out of
	// the pool until then, so no Build can have it meanwhile.
	c := wk.ctx
	l.running = wk
	d.m.Lend()
	c.cur = d.m
	if err := wk.h.HandleMessage(c, d.m); err != nil {
		l.node.handlerError(wk, err)
	}
	if l.pushedBack {
		// What is queued ahead of the handler's own re-queued message
		// (its kick, last) still runs; the handler does not, until the
		// inbox has had its turn.
		l.pushedBack = false
		l.budget = min(l.budget, l.local.len()-1)
	}
	if c.cur != nil {
		l.cache.Reclaim(c.cur)
		c.cur = nil
	}
	l.running = nil
}

// recovered deals with v, a panic runGuarded recovered (nil: none, as
// when the goroutine is exiting with runtime.Goexit). A panic of the
// running handler takes back the message lent to the handler (unless it
// handed it on or kept it) and stops the worker; one outside any handler
// is the engine's own bug and goes on.
func (l *loop) recovered(v any) {
	if v == nil {
		return
	}
	wk := l.running
	if wk == nil {
		panic(v)
	}
	l.running = nil
	if c := wk.ctx; c.cur != nil {
		m := c.cur
		c.cur = nil
		l.putOwned(m)
	}
	l.fault(wk, v)
}

// putOwned takes back m, lent to a handler that panicked before it
// handed m on or kept it, and releases it once, whether or not the
// handler had released it. Reclaim panics only on a message that is not
// lent, which a handler can bring about only by meddling with the loan
// itself (wire.Message.EndLoan); that is its fault, already being dealt
// with, and must not take the loop down.
func (l *loop) putOwned(m *wire.Message) {
	defer func() { _ = recover() }()
	l.cache.Reclaim(m)
}

// fault deals with wk's handler or Shutdown having panicked with v, on
// wk's loop: the panic is counted and logged, once per worker, with its
// stack, and wk stops as StopWorker would stop it, except that its
// Shutdown is not called (its state may be broken). Its addresses are
// freed, so senders get ErrUnknownWorker, and messages already queued for
// it are released as undeliverable. Other workers, the loop and the node
// carry on.
func (l *loop) fault(wk *worker, v any) {
	n := l.node
	n.stats.panics.Add(1)
	if wk.faulted {
		return
	}
	wk.faulted = true
	wk.stopped = true
	n.unregister(wk)
	n.log.Error("worker panicked; stopped", "worker", wk.addrs[0], "panic", v, "stack", string(debug.Stack()))
}

// idle parks the loop, free to borrow, and waits until it has work: it
// looks at the inbox a while, then sleeps until a waker's token. It
// returns holding the loop (stRunning).
func (l *loop) idle() {
	l.state.Store(stParked)
	for i := 1; i <= spinLooks; i++ {
		switch l.state.Load() {
		case stRunning: // a waker took the loop for us and sends our token
			l.parker.park()
			return
		case stParked:
			// A producer that pushed before the Store saw stRunning and
			// left the work to us: Len counts a push under way too.
			if (l.inbox.Ready() || l.hasTasks.Load() || i == 1 && l.inbox.Len() > 0) && l.state.CompareAndSwap(stParked, stRunning) {
				return
			}
		}
		// stBorrowed: another goroutine runs our work and gives the loop
		// back (parked, or woken with our token if it left work).
		if i%yieldEvery == 0 {
			yield()
		}
	}
	// Before sleeping, what arrived under way must be seen (Len counts
	// a push whose slot is not published yet). Taking the loop back can
	// fail: a waker took it (and sends our token) or a borrower holds it
	// (and will give it back or wake us). Either way the token is the
	// only way back to stRunning.
	if (l.inbox.Len() > 0 || l.hasTasks.Load()) && l.state.CompareAndSwap(stParked, stRunning) {
		return
	}
	l.parker.park()
}

// drain releases everything still queued, counting it
// (Stats.DroppedAtClose). Only the loop goroutine as it exits, or the
// node's shutdown once it has: it makes the caller the inbox's consumer.
func (l *loop) drain() {
	defer l.cache.Flush()
	dropped := &l.node.stats.closeDrops
	release := func(d delivery) {
		dropped.Add(1)
		d.m.Release()
	}
	for _, q := range []*fifo{&l.local, &l.stash} {
		for {
			d, ok := q.pop()
			if !ok {
				break
			}
			release(d)
		}
	}
	drainRing(l.inbox, release)
}

// drainRing pops and releases until q is empty, pushes under way
// included. The caller is q's consumer and no new push may start.
func drainRing[T any](q *ring.MPSC[T], release func(T)) {
	for {
		v, ok := q.Pop()
		if !ok {
			if q.Len() == 0 {
				return
			}
			yield() // a producer is between claiming a slot and filling it
			continue
		}
		release(v)
	}
}

func yield() { runtime.Gosched() }

// fifo is a bounded FIFO used by one goroutine only.
type fifo struct {
	buf        []delivery
	head, tail uint64
	mask       uint64
}

func newFIFO(size int) fifo {
	n := uint64(1)
	for n < uint64(size) {
		n <<= 1
	}
	return fifo{buf: make([]delivery, n), mask: n - 1}
}

func (q *fifo) push(d delivery) bool {
	if q.tail-q.head == uint64(len(q.buf)) {
		return false
	}
	q.buf[q.tail&q.mask] = d
	q.tail++
	return true
}

func (q *fifo) len() int { return int(q.tail - q.head) }

func (q *fifo) full() bool { return q.tail-q.head == uint64(len(q.buf)) }

// popBatch pops up to len(dst) deliveries into dst and returns how many.
func (q *fifo) popBatch(dst []delivery) int {
	n := 0
	for n < len(dst) {
		d, ok := q.pop()
		if !ok {
			break
		}
		dst[n] = d
		n++
	}
	return n
}

func (q *fifo) pop() (delivery, bool) {
	if q.head == q.tail {
		return delivery{}, false
	}
	i := q.head & q.mask
	d := q.buf[i]
	q.buf[i] = delivery{}
	q.head++
	return d, true
}
