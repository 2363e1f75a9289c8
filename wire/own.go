package wire

// Ownership
//
// A Message has one owner at a time. The owner either hands it on (to a
// mailbox, a transport) or calls Release; after either it must not touch
// the message again, nor any slice it got from it.
//
// Two checks catch an owner that does. Release panics on a message
// already released, always: a second release means two owners, and the
// pool would otherwise hand the message out twice. Built with the tag
// hopwire_checks (make test, make fuzz), every accessor that reads or
// rewrites the encoded message — Payload,
// Bytes, Raw, Next, ReturnBytes, Hop, Step, Turn, Redirect, PrependReturn,
// SetPayload, SetPayloadLen, Resize, Parse, Frame, Datagram — panics
// with ErrUseAfterRelease on a released message. In a production binary
// that check is a compare of a global that never changes and a branch
// never taken: two instructions, inlined, per accessor call.
// BenchmarkUseCheck/check=false against BenchmarkHop from before the
// check (6 hops and 2 turns an op): no difference in time (benchstat, 10
// runs each, p=0.35), 1485 vs 1457 instructions (callgrind). Benchmarks
// in test binaries run with the check on (1500). Neither check can see a
// stale pointer to a message that was released and then handed out again
// by the pool: that one is a new message.
//
// Lending. An event loop hands each message to a handler and takes it
// back when the handler returns, unless the handler handed it on or kept
// it. It lends the message (Lend) for the call. A Release by the
// borrower then marks the message released — any later use is a bug, a
// second Release panics — but leaves it out of the pool, so no Build can
// hand it out while the lender still holds the pointer, and the lender
// gives it back when the call returns (Cache.Reclaim). A borrower that
// takes the message over (to hand it on, or to keep it past the call)
// ends the loan (EndLoan), and from then on its Release is the ordinary
// one.
//
// Why a loan and not a generation count the lender compares after the
// call: a message the borrower released goes back to a pool that every
// goroutine builds from, so by the time the lender looked at its count
// another goroutine could be writing it — a data race unless every
// write of the count is atomic, a locked instruction on each build and
// release. A loan keeps the message on the lender's goroutine until the
// call returns: nothing to race with, nothing to wrap, no atomics, and
// the reuse the count would have detected cannot happen. It costs a
// store when the message is lent and one when the loan ends (the
// engine's ChainRoundTrip, 22 hops a round, production build: 10191
// instructions a round against 10084 before loans and use checks).

// checkUse turns on the use-after-release check of the accessors: under
// the build tag hopwire_checks (checks_on.go), not in production builds.
// A variable, not the constant, so BenchmarkUseCheck can set it.
var checkUse = useChecks

// use panics if the use check is on and m has been released. It is small
// enough to be inlined into every accessor, and they into their callers.
func (m *Message) use() {
	if checkUse && m.released {
		panic(ErrUseAfterRelease)
	}
}

// Release gives the message and its buffer back to the pool. Releasing a
// message twice panics with ErrMessageReleased: it means two owners, a
// bug that would otherwise corrupt another message later. A message that
// is lent (Lend) is marked released and goes back to the pool when its
// lender reclaims it.
func (m *Message) Release() {
	if m.released || m.lent {
		m.releaseLent()
		return
	}
	m.released, m.meta = true, Meta{}
	m.pool.live.Add(-1)
	m.pool.put(m)
}

// releaseLent is Release of a message that is lent or already released.
func (m *Message) releaseLent() {
	if m.released {
		panic(ErrMessageReleased)
	}
	m.released = true
}

// Lend marks m as lent by its owner to code it calls and takes it back
// from (an event loop lending it to a handler) until the borrower ends the
// loan (EndLoan) or the lender reclaims it (Cache.Reclaim). A Release
// while m is lent marks m released but does not give it back to the pool,
// so nothing can be handed m while the lender still holds it; Reclaim
// gives it back. Only the lender calls Lend, on the goroutine that will
// call Reclaim. It keeps m's released mark, if m has one, for the
// accessors to find.
func (m *Message) Lend() { m.lent = true }

// EndLoan ends the loan of m: the borrower has taken it over, to hand it
// on or to keep it, and a Release from now on gives it back to the pool
// at once. It does nothing to a message that is not lent, and keeps a
// released mark: a borrower that released m and then hands it on is
// caught by the accessors (in tests) or by the next Release.
func (m *Message) EndLoan() { m.lent = false }
