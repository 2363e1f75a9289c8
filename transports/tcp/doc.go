// Package tcp is hopwire's TCP transport: it carries a node's messages to
// other nodes over TCP connections, with gnet v2 as the event loop.
//
// # Using it
//
//	tr, _ := tcp.New(node, tcp.Config{})  // registers for wire.TCP addresses
//	l, _ := tr.Listen("127.0.0.1:4000")   // an engine.Listener; or node.Listen(wire.TCP, ...)
//	node.Allow(l.Flow(), wire.LocalAddr("echoer")) // default deny for the network
//
// and on another node a route through "1#127.0.0.1:4000 => echoer"
// reaches the echoer: the first send dials, later ones reuse the
// connection. Connect dials explicitly and returns the connection as an
// engine.Conn, whose Addr is its worker's (0#<32 hex>).
//
// # Unix-domain sockets
//
// NewUnix makes the same transport over Unix stream sockets, for
// wire.Unix addresses ("3#/path/to/sock"): the same hello, framing,
// access control, write path and limits; listeners bind socket files of
// mode 0600 and remove them on Close (unix.go). Package transports/unix
// is its public name.
//
// # Wire
//
// Each side sends its wire.Hello (8 bytes: magic, the header versions it
// speaks, capability bits) and reads the peer's; the two settle on the
// highest common version and the common capabilities (wire.Negotiate),
// or the connection closes, counted in Stats.BadVersion with the reason
// logged (a peer of hopwire's first protocol, which sent a lone version
// byte, is refused, not served). Then frames, as wire/frame.go lays
// them out: a u32 big-endian length, then the encoded message.
//
// # Compression
//
// The capabilities offered are the codecs of Config.Compress
// (wire.Codec.Offer): a connection whose two sides share one settles on
// the densest (wire.Settle) and each side sends payloads of
// Config.CompressMin bytes or more compressed with it (wire.FlagCompressed)
// where that shrinks them by an eighth; the receiver decodes them before
// it delivers, so a node forwards, and its workers see, plain messages.
// A side that offers nothing is served plain, and a flag the connection
// did not settle on closes it (Stats.BadFrame), as does a compressed
// payload that does not decode or declares more than the max frame
// before anything is allocated for it (Stats.BadCodec); both logged.
// Incompressible traffic (TLS, media, compressed files) is tried now
// and then, not every message: after four in a row that did not shrink,
// once in 64, then 128, then 256 (wire.Skipper).
// Stats.SavedIn and SavedOut are what compression saved on the wire.
// wire.FlagError, a node's refusal notice, needs no negotiation.
//
// # Hops
//
// As in Ockam: the sending side consumes the transport address (Send
// steps "1#host:port" or "1#<32 hex>" off the onward route); the
// receiving side puts its connection worker's address, 0#<32 hex>, at
// the front of the return route, so a reply goes back over the same
// connection: a message routed to the connection worker leaves over its
// connection. A route names one connection either way: 0#<32 hex>, its
// worker (the Addr of what Connect returns), or 1#<32 hex>, the TCP address of the
// same id.
// Every message that comes in spends one of its hops (wire's hop budget,
// engine.Inbound.Deliver).
//
// # Access control
//
// Each connection is an engine.Link with a flow of its own, spawned by
// its listener's flow (engine.Listener.Flow) or, for a connection the transport
// dialed, by Transport.DialedFlow. Messages that arrive over it carry that
// origin for as long as they are on the node, hops and forwarders
// included, and reach only the workers allowed for the connection or its
// spawner (node.Allow). A message leaves over a connection only if the
// link admits it: local traffic, a reply to what came in over it, a reply
// path it was granted, a Forwarder's configured route, or the built-in
// Hop bridging onto a connection this node dialed; a message from the
// network never makes the transport dial unless the node allows that
// destination (engine.Config.AllowDial). So a peer cannot write onto
// another peer's connection, nor use the node as an open relay. What
// comes back over a dialed connection reaches the workers that sent over
// it and what was allowed for DialedFlow. engine/access.go has the model.
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
//   - Conn.Dup, SetNoDelay: concurrency-safe (socket calls); called in
//     OnOpen, SetNoDelay on TCP connections only.
//   - Client.EnrollContext of a *net.UnixConn: no TCP options; gnet
//     renames the net.Conn's LocalAddr (to the peer's name and the
//     dup's fd), which is not used here.
//   - Conn.Close: concurrency-safe (posts a task to the loop, allocating
//     a closure and a queue node); used only to close a connection from
//     outside its events (write error, slow consumer, handshake or frame
//     timeout, Transport.Close, Listener.Close).
//   - OnOpen's returned bytes: written by gnet directly on the loop
//     before any other event of the connection; used for the hello.
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
//     starts, when its first body bytes come (a length prefix alone holds
//     nothing), with room for them (at least 64 KiB) and grows by
//     doubling. The bytes held by incomplete frames over all the
//     transport's connections (Stats.PendingBytes) are bounded by
//     Config.MaxPendingBytes. A frame that needs room in a full budget
//     gets it from the frames that have had no new bytes for a second or
//     more: their connections are closed (Stats.Evicted), and their
//     bytes count against nobody else until their readers give them back.
//     If there are none, the connection that asked is closed
//     (Stats.OverBudget). A peer that stalls loses its place to one that
//     sends. Outbound, what waits in all the connections' queues together
//     (Stats.QueuedBytes) is bounded by Config.MaxQueuedBytes, not only
//     each queue by QueueBytes: thousands of peers that ask for large
//     replies and do not read them cannot make the node hold QueueBytes
//     for each.
//   - Time: the peer's hello must come within
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
// waits a bounded time for room, then is refused with ErrQueueFull: the
// sending worker gets the error, the message is released and counted
// (Stats.QueueFull). Nothing grows without bound. Who waits, and for how
// long, depends on which side opened the connection.
//
// A send to a connection this transport dialed waits up to
// Config.SendWait (50 ms), every time. The node chose to send downstream
// there, and the wait is what carries the pushback upstream. A message
// read off a connection is usually handled on the gnet loop that read it
// (the node lends the reader its event loop, see engine), so when its
// next hop is a full queue it is that reader that waits, and it reads
// nothing from its connections meanwhile: their kernel buffers fill and
// TCP's flow control stops the upstream sender, whose own queue then
// fills. When the node's loop handles the message instead, the loop
// waits, its mailbox fills and Inbound.Deliver waits
// (engine.Config.DeliverWait), with the same effect.
// TestBackpressureReachesUpstream shows it across three nodes.
//
// A send to a connection a listener accepted waits at most
// Config.PeerSendWait (1 ms). What sends there is usually a worker that
// serves every peer, replying: were it to wait, one peer that does not
// read its replies would stall that worker, and the loop it runs on, for
// every other peer. Traffic the node relays to the peer (a message whose
// origin is another link: a relay node forwarding to the node that
// registered, replies coming back through a hop) waits Config.SendWait,
// as on a dialed connection: a stream through the node is pushed back
// along its path instead of losing messages, and a peer that stops
// reading is still cut after SlowConsumerTimeout.
//
// Slow consumers are cut off, not waited for (the rule NATS applies to
// its clients). A refused send makes the connection congested. Sends to
// a congested accepted connection are refused at once, without waiting,
// until a send finds its queue drained below half of both bounds; a
// dialed connection is congested until a send to it gets in (sends to it
// still wait). A refused send that finds its connection congested for
// Config.SlowConsumerTimeout (2 s) closes it: the reason is "slow
// consumer", logged at Warn and counted (Stats.SlowConsumers), and what
// was queued for it is dropped (Stats.Dropped). For an accepted
// connection that means its peer read less than half a queue in that
// time; for a dialed one, that it made room for no send. A peer that
// reads steadily, only slower than it is sent to, is not cut: some sends
// to it are refused, the others get in. On the send path the rule costs
// one atomic load. TestSlowConsumerDoesNotStallOthers shows it.
//
// The check runs when a send is refused; there is no timer. A queue left
// full with nobody sending to it is not cut until the next send to it is
// refused: it holds no one up, and it holds at most its budget
// (QueueBytes, with the kernel's buffers and a flusher goroutine that
// polls for room). A timer would not lower what idle peers can cost: a
// peer that fills its queue to just under the top and stops holds as
// much without ever being refused. That bound is the budget times the
// number of connections.
//
// The costs: the waiting gnet loop also stops reading its other
// connections (gnet v2.9.4 cannot pause one connection), and the waits
// are bounded, so a receiver that stays stuck longer than SendWait or
// DeliverWait makes its upstream drop (and count) rather than stall for
// ever. What the node's own workers send to a peer over the connection
// it opened, replies mostly, does not push back: it is refused after
// PeerSendWait instead of slowing its sender down. A connection still in its handshake never
// waits (its peer's hello may be for the very loop that would be
// waiting) and is not yet a slow consumer.
package tcp
