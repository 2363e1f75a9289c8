package engine

import (
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

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
// only if it was parked. The loop drains local after every message from
// the inbox, so a message crosses as many same-loop hops as it has before
// the loop takes the next one in (run to completion).
//
// Borrowing: an off-loop sender (a transport's reader, an app goroutine)
// that finds the loop parked does not wake the loop's goroutine; it takes
// the loop and runs the work itself, then gives it back. A message read
// off a socket is then handled, and its reply written, on the goroutine
// that read it, with no hand-off: on a small machine a wake-up of another
// goroutine costs more than the hop. A borrow is bounded (borrowRounds
// batches) and ends early when tasks wait, handing the rest to the loop's
// goroutine.
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
	_      [128]byte

	// Loop-owned.
	id    int
	local fifo
	batch []delivery
	cache *wire.Cache // messages built and released on this loop
	// budget is how many more same-loop dispatches the holder may run:
	// < 0 for the loop's goroutine (no limit), a borrowBudget for a
	// borrower.
	budget int
	// The batch's messages not yet dispatched are batch[next:end]: a
	// panic recovered mid-batch resumes there.
	next, end int
	running   *worker // whose handler is running, for the recover to blame
	_         [128]byte

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

// Loop states. Only the goroutine leaves stRunning (to park); a waker
// moves stParked to stRunning and sends the parked goroutine its token; a
// borrower moves stParked to stBorrowed and back.
const (
	stRunning int32 = iota
	stParked
	stBorrowed
)

// borrowBudget bounds how many messages a borrower dispatches, same-loop
// work included, before it hands the loop back, so a transport's reader
// is not kept from its sockets for long (a worker that keeps sending to
// itself would otherwise keep it for ever).
const borrowBudget = 4 * batchSize

// batchSize bounds how many inbox messages a loop takes at once, so the
// local queue and tasks get their turn.
const batchSize = 64

// spinRounds is how many times an idle loop looks at its inbox, yielding
// between looks, before it parks. A message arriving within that window
// costs no wake-up; after it, the loop uses no CPU.
const spinRounds = 32

func newLoop(n *Node, id, size int) *loop {
	return &loop{
		node:   n,
		id:     id,
		inbox:  ring.NewMPSC[delivery](size),
		local:  newFIFO(size),
		batch:  make([]delivery, batchSize),
		cache:  wire.NewCache(n.pool),
		parker: parker{ch: make(chan struct{}, 1)},
		budget: -1,
	}
}

// push queues d from any goroutine. If the loop is parked, a sender on
// another loop wakes its goroutine; an off-loop sender (external) borrows
// the loop and runs the work itself.
func (l *loop) push(d delivery, external bool) bool {
	if !l.inbox.Push(d) {
		return false
	}
	if external && !l.hasTasks.Load() {
		if l.state.Load() == stParked && l.state.CompareAndSwap(stParked, stBorrowed) {
			l.borrow()
		}
		return true
	}
	l.wakeUp()
	return true
}

func (l *loop) wakeUp() {
	if l.state.Load() == stParked && l.state.CompareAndSwap(stParked, stRunning) {
		l.parker.unpark()
	}
}

// borrow runs the loop on the caller's goroutine, which holds it
// (stBorrowed), then gives it back.
func (l *loop) borrow() {
	l.budget = borrowBudget
	for l.budget > 0 && !l.hasTasks.Load() {
		if l.runBatch() == 0 {
			break
		}
	}
	l.budget = -1
	left := l.local.len() > 0
	l.state.Store(stParked)
	// Work left over, or pushed while we held the loop (which woke
	// nobody): hand it to the loop's goroutine rather than keep the caller.
	if left || l.inbox.Len() > 0 || l.hasTasks.Load() {
		l.wakeUp()
	}
}

// runBatch dispatches one batch from the inbox, each message followed by
// the same-loop work it caused. Only the loop's holder calls it.
func (l *loop) runBatch() int {
	n := l.inbox.PopBatch(l.batch)
	if n > 0 {
		l.next, l.end = 0, n
		l.runRest()
	}
	return n
}

// runLocal runs the same-loop work queued, as runBatch does after each
// message.
func (l *loop) runLocal() {
	if l.local.len() > 0 {
		l.runRest()
	}
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
	if l.local.len() > 0 {
		l.drainLocal()
	}
	for l.next < l.end {
		d := l.batch[l.next]
		l.batch[l.next] = delivery{}
		l.next++
		l.dispatch(d)
		l.drainLocal()
	}
	return true
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
		l.runLocal() // what a borrower left
		if l.hasTasks.Load() {
			l.runTasks()
			l.runLocal()
			if l.stopping {
				l.taskMu.Lock()
				l.exited = true
				l.taskMu.Unlock()
				return
			}
		}
		if l.runBatch() == 0 {
			l.idle()
		}
	}
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

// drainLocal runs same-loop work until there is none or the holder's
// budget is spent. Only runGuarded calls it, under its recover.
func (l *loop) drainLocal() {
	for l.budget != 0 {
		d, ok := l.local.pop()
		if !ok {
			return
		}
		if l.budget > 0 {
			l.budget--
		}
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

// idle spins briefly, then parks until a producer or a task wakes it.
func (l *loop) idle() {
	// Yield first: the inbox may look non-empty because a producer is
	// between claiming a slot and filling it, and it needs the CPU.
	yield()
	for i := 0; i < spinRounds; i++ {
		if l.inbox.Len() > 0 || l.hasTasks.Load() {
			return
		}
		yield()
	}
	l.state.Store(stParked)
	// A producer that pushed before seeing stParked must be seen here.
	// Taking the loop back can fail: a waker took it (and sent our token)
	// or a borrower holds it (and will give it back or wake us). Either
	// way the token is the only way back to stRunning.
	if (l.inbox.Len() > 0 || l.hasTasks.Load()) && l.state.CompareAndSwap(stParked, stRunning) {
		return
	}
	l.parker.park()
}

// drain releases everything still queued. Only after the loop goroutine
// has exited: it makes the caller the inbox's consumer.
func (l *loop) drain() {
	defer l.cache.Flush()
	for {
		d, ok := l.local.pop()
		if !ok {
			break
		}
		d.m.Release()
	}
	drainRing(l.inbox, func(d delivery) { d.m.Release() })
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
