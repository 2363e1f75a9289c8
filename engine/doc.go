// Package engine is hopwire's forwarding engine: a Node hosts workers at
// local addresses and moves messages between them by their onward routes,
// handing messages for other address types to transports.
//
// Concurrency. A Node has a few event loops (Config.Loops). Every worker
// lives on one loop and is never run concurrently with itself, so it needs
// no locks. A worker sending to a worker on its own loop queues the message
// on a loop-local FIFO that runs next (run to completion); anything else
// goes through the target loop's bounded lock-free mailbox. A loop that
// runs out of work spins briefly and parks; a goroutine off the loops (an
// app context, a transport's reader) that finds a loop parked runs its
// work itself instead of waking it, so a message read off a socket can be
// handled and answered without a goroutine hand-off.
//
// What a worker may rely on. Messages from one sender to one worker
// arrive in the order they were sent. A handler runs to completion: the
// loop runs nothing else meanwhile. A loop runs in turns, each at most
// 256 same-loop dispatches and 64 messages from its mailbox, so a worker
// that keeps sending to itself (a source that re-kicks itself) delays
// the others by at most one turn, and a loop's mailbox and its tasks
// (StopWorker, Close) are reached whatever its workers do. A handler that
// blocks holds its whole loop: nothing on that loop runs until it
// returns.
//
// Ownership. A message has one owner at a time (wire.Message). The
// engine lends a worker the message it hands to HandleMessage for the
// call; the handler hands it on (Context.Forward, Context.Reply),
// releases it, keeps it (Context.Keep), or leaves it to the engine,
// which releases it when the handler returns — once, whatever the
// handler did (see Worker). A kept message is the worker's until it
// hands it on or releases it, from a later handler or its Shutdown; so
// is a message it builds (wire.Pool.Build, BuildRoom). A message received
// by an app context belongs to the caller, who releases it; one given to
// a Direct receiver's Take belongs to the receiver. Whoever hands a
// message on or releases it touches neither it nor its slices again.
//
// Backpressure. Every mailbox is bounded. External senders wait up to a
// deadline (Config.SendTimeout, Config.DeliverWait); a worker forwarding
// to another loop (Forward, Reply) waits up to Config.WorkerWait, which
// stalls its loop and so pushes back on whoever sends to it; a worker's
// new message (Send) does not wait and may fill another loop's mailbox
// only to three quarters, leaving the rest to messages already on their
// way. Loops that wait on each other's full mailboxes keep taking their
// own in meanwhile and never hold each other (loop.go says how). Past its
// wait a send fails with ErrMailboxFull and the refusal is counted
// (Node.Stats). Nothing is dropped without an error to someone and a
// counter. Every layer's refusal for a full receiver wraps
// ErrBackpressure, and every "closed" wraps ErrClosed (errors.go).
//
// Refusals. A message from the network that this node drops because it
// cannot reach its next worker or may not make the node dial is answered
// with a refusal notice (wire.FlagError) back along its return route,
// rate-limited; an app context's Receive or Request returns it as a
// *RefusedError. The rules are in notice.go.
//
// Faults. A worker whose handler (or Shutdown) panics is stopped on its
// own: the panic is recovered on whichever goroutine ran the loop (the
// loop's, an app's, a transport reader's), counted in Stats.Panics and
// logged with its stack; the message it owned is released, its addresses
// are freed, what was queued for it is dropped as undeliverable, and its
// Shutdown is not called. The loop, the node and every other worker
// carry on.
//
// Access control. Messages from the network carry their origin
// (wire.Meta: the link they came in over and its spawner) for as long as
// they are on the node, through hops and forwarders; they reach only
// workers allowed for it (Node.Allow) and leave only over links that
// admit them (Link.Admit). The model is written down in one place:
// access.go.
//
// Loops. Every message has a hop budget (wire's hops byte) that each node
// it enters spends and a reply inherits; one that arrives with none left
// is dropped and counted (Stats.HopsExhausted).
package engine
