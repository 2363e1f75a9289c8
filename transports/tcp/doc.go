// Package tcp is hopwire's TCP transport: it carries a node's messages to
// other nodes over TCP connections, with gnet v2 as the event loop.
//
// # Using it
//
//	tr, _ := tcp.New(node, tcp.Config{})  // registers for wire.TCP addresses
//	l, _ := tr.Listen("127.0.0.1:4000")
//	node.Allow(l.Flow(), "echoer")        // default deny for the network
//
// and on another node a route through "1#127.0.0.1:4000 => echoer"
// reaches the echoer: the first send dials, later ones reuse the
// connection. Connect dials explicitly and returns the address of the
// connection's worker.
//
// # Wire
//
// Each side sends one byte, wire.Version, and reads the peer's; a
// mismatch closes the connection. Then frames, as wire/frame.go lays
// them out: a u32 big-endian length, then the encoded message.
//
// # Hops
//
// As in Ockam: the sending side consumes the transport address (Send
// steps "1#host:port" or "1#<id>" off the onward route); the receiving
// side puts its connection worker's address, 0#<32 hex>, at the front of
// the return route, so a reply goes back over the same connection: a
// message routed to the connection worker leaves over its connection.
// Only local workers may route to it: no flow is allowed to reach it, so
// a message from the network cannot go straight on over a connection
// (its own or another peer's). A reply still goes back over it, because
// the worker the message reached sends the reply and so vouches for it;
// a route that is to come back through a node must name a worker there
// (a hop) allowed for the flow it arrives on.
//
// # Access control
//
// Messages from a listener's connections carry the listener's flow
// (Listener.Flow) and reach only the workers the node allowed for it.
// Such a message may not go straight on to a transport address either
// (the node denies it, and it is counted): the node would otherwise dial
// out for any peer. Messages over connections this transport dialed
// carry Config.DialedFlow, 0 by default: the node chose to talk to that
// peer, and its replies are trusted like local traffic. Set DialedFlow to
// a flow of its own when that is not wanted.
//
// # Threading
//
// gnet runs the sockets: one gnet engine (a gnet.Client) with
// Config.EventLoops event loops, shared by every Transport in the process
// that has the same EventLoops and ReadBufferCap (shared.go says why: a
// loop that finds the next socket readable right after its own write
// carries on without a thread wake-up). Every connection is enrolled in
// it: the ones the transport dials, and the ones its listeners accept
// (accepting is a goroutine in Accept on Go's poller). A connection
// belongs to one loop for its life. That loop reads it: OnTraffic
// reassembles frames, copies each into a pooled message (once, when it
// came whole in a read: see reader) and hands it to the node with
// Deliver, which runs the handler on the gnet loop's
// goroutine when the worker's event loop is parked (it lends it), and
// otherwise queues it on that loop's mailbox, waiting for room up to
// engine.Config.DeliverWait. Writing is not
// the loop's job; see send.go: senders write directly with writev on the
// connection's own dup of the descriptor, or hand a burst to the
// connection's flusher goroutine.
//
// The gnet calls used, and the contracts relied on (gnet v2.9.4, read
// from its source):
//
//   - Conn.Next(-1): loop only; returns everything buffered. When gnet's
//     inbound buffer is empty — always, here, since each call consumes
//     all — it is a view of the loop's read buffer, valid until
//     OnTraffic returns, and allocates nothing.
//   - Conn.Context, RemoteAddr, OutboundBuffered, Flush:
//     loop only; called only from OnOpen, OnTraffic, OnClose.
//   - Conn.Dup, SetNoDelay: concurrency-safe (socket calls); called in OnOpen.
//   - Conn.Close: concurrency-safe (posts a task to the loop, allocating
//     a closure and a queue node); used only to close a connection from
//     off its loop (write error, handshake or frame timeout,
//     Transport.Close, Listener.Close).
//   - OnOpen's returned bytes: written by gnet directly on the loop
//     before any other event of the connection; used for the version byte.
//   - OnClose: called exactly once for an opened connection, on its loop,
//     before gnet closes its descriptor, including when the engine stops.
//   - Client.EnrollContext: takes a dialed or accepted net.Conn (dups its
//     descriptor, closes it) and returns after OnOpen has run on the
//     chosen loop.
//   - Client.Stop: every loop has exited and every connection has had
//     OnClose. The shared engine stops when its last transport closes;
//     a transport (or listener) closing before that closes its own
//     connections with Conn.Close and waits for their OnClose.
//
// Not used, and why: Conn.AsyncWrite/AsyncWritev/Wake and
// EventLoop.Execute each allocate per call (a hook or closure, plus a node
// of gnet's lock-free task queue) and cost an eventfd wake-up of the loop;
// gnet's outbound buffer grows without bound when the peer stops reading.
//
// # Limits
//
// What peers can make a node hold is bounded, and what they cause is
// counted in Stats:
//
//   - Memory: a frame is read into memory as its bytes arrive, never
//     reserved at the length its prefix declares. A frame that comes
//     whole in one read is copied once into its message; a longer one
//     starts with room for what came (at least 64 KiB) and grows by
//     doubling. The bytes held by incomplete frames over all the
//     transport's connections (Stats.PendingBytes) are bounded by
//     Config.MaxPendingBytes: a connection whose frame would pass the
//     bound is closed (Stats.OverBudget), the others keep theirs.
//   - Time: the peer's version byte must come within
//     Config.HandshakeTimeout (Stats.Silent), and each frame, from its
//     first byte to its last, within Config.FrameTimeout
//     (Stats.FrameTimeouts). The reader publishes when a frame it left
//     incomplete began, and one goroutine per transport looks at the
//     connections about once a second: a frame costs no timer.
//   - Connections: at most Config.MaxConns per listener; one accepted
//     over it is closed at once (Stats.Rejected). When the process is
//     out of descriptors, failed accepts are counted (Stats.AcceptErrors)
//     and the accept loop backs off, 5 ms growing to 100 ms, rather than
//     spin.
//   - Logs: what the network causes (connections closed for bad input
//     or timeouts, denied or undeliverable messages, refused
//     connections, failed accepts) is logged at most once a second per
//     cause over all connections, and the line says how many were held
//     back (transports/internal/ratelog).
//
// # Backpressure
//
// Each connection's outbound queue is bounded in messages and bytes
// (Config.QueueLen, QueueBytes). When the peer stops reading, the
// kernel's socket buffers fill, then the queue. A send into a full queue
// waits up to Config.SendWait, then is refused with ErrQueueFull: the
// sending worker gets the error, the message is released and counted
// (Stats.QueueFull). Nothing grows without bound.
//
// The wait is what carries the pushback upstream. A message read off a
// connection is usually handled on the gnet loop that read it (the node
// lends the reader its event loop, see engine), so when its next hop is a
// full queue it is that reader that waits, and it reads nothing from its
// connections meanwhile: their kernel buffers fill and TCP's flow control
// stops the upstream sender, whose own queue then fills. When the node's
// loop handles the message instead, the loop waits, its mailbox fills and
// Node.Deliver waits (engine.Config.DeliverWait), with the same effect.
// TestBackpressureReachesUpstream shows it across three nodes.
//
// The costs: the waiting gnet loop also stops reading its other
// connections (gnet v2.9.4 cannot pause one connection), and the waits
// are bounded, so a receiver that stays stuck longer than SendWait or
// DeliverWait makes its upstream drop (and count) rather than stall for
// ever. A connection still in its handshake never waits: its peer's
// version byte may be for the very loop that would be waiting.
package tcp
