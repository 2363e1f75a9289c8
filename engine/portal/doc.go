// Package portal carries unmodified TCP byte streams (HTTP, Redis,
// PostgreSQL, ssh) over hopwire routes.
//
// An Outlet is a worker at an address the caller picks; for every
// session opened to it, it connects to its fixed target. An Inlet is a
// TCP listener on another node; every connection it accepts opens a
// session along its route, which ends at the outlet
// ("1#10.0.0.2:4000 => outlet", or through relays and hops):
//
//	o, _ := portal.NewOutlet(n2, wire.LocalAddr("outlet"), portal.OutletConfig{Target: "127.0.0.1:5432"})
//	n2.Allow(listener.Flow(), wire.LocalAddr("outlet")) // who may open sessions
//	in, _ := portal.NewInlet(n1, portal.InletConfig{Listen: "127.0.0.1:6000",
//		Route: wire.MustParseRoute("1#10.0.0.2:4000 => outlet")})
//
// Close the inlets and outlets before their nodes.
//
// # Sessions
//
// Each connection is a session with a worker on each side, at a random
// 128-bit address (32 hex digits) made for it. The inlet's session
// worker sends OPEN from its own address along the route; the outlet
// starts a session worker of its own, allowed only for the link the OPEN
// came in over (Node.Allow of m.Meta().Flow), dials the target and
// answers OK from the new worker's address, or ERR. Each side learns its
// peer's route from the return route of the message it got (OPEN, OK),
// and sends everything else there. The outlet's messages reach the
// inlet's worker as replies: the OPEN leaving over a link granted that
// link the way back to its sender (engine/access.go). Everyone behind
// one relay shares a link, so the session addresses are what keep them
// out of each other's sessions: nobody can guess one.
//
// # Messages
//
// Every portal message's payload starts with a kind byte; integers are
// big-endian:
//
//	OPEN    0x01 | version u8 (1) | window u32 | chunk u32 [| codec u8]   inlet → outlet
//	OK      0x02 | window u32 | chunk u32 [| codec u8]                    outlet → inlet
//	ERR     0x03 | text (UTF-8, ≤ 200 bytes)                 outlet → inlet
//	DATA    0x04 | seq u32 | bytes (≥ 1)                     either way
//	CREDIT  0x05 | total u64 (> 0)                           either way
//	EOF     0x06 | count u32                                 either way
//	CLOSE   0x07                                             either way
//	RESET   0x08 | text (≤ 200 bytes, may be empty)          either way
//	PROBE   0x09                                             either way
//	DATAZ   0x0A | seq u32 | codec frame (decodes to ≥ 1 byte) either way
//
// window (4 KiB to 64 MiB) is how many bytes of DATA the sender takes in
// flight from its peer, chunk (1 KiB to 1 MiB) the most bytes one DATA
// message may carry to it. DATA messages are numbered from 0 in each
// direction (seq), and EOF says how many there were (count): a message
// dropped on the way (a full queue on a node between refuses it) is a gap
// the receiver sees, and the session resets instead of handing its
// socket a stream with a hole in it. EOF says the sender's socket read EOF: the
// receiver writes everything before it and then shuts its socket's
// write side (half-close); the session ends cleanly once both sides
// have sent EOF and had all their data written. CLOSE says the sender
// closed its session (its inlet or outlet closing): the receiver writes
// what it has queued and closes its socket. RESET says the sender
// aborted: the receiver resets its socket (RST, SetLinger(0)) at once.
// Anything else — a payload parse refuses, a kind out of place (DATA
// before OK, after EOF), credit beyond the window, DATA beyond the
// credit, a seq or count out of order — resets the session and is counted
// (Stats.BadMessages).
//
// # Compression
//
// An inlet may ask its sessions to compress (InletConfig.Compress): its
// OPEN ends with a codec byte (wire.S2 = 1, wire.Zstd = 2; absent means
// none), and the outlet's OK names the codec the session uses, which the
// outlet then also sends with. A compressed session sends a chunk of
// 1 KiB or more as DATAZ, one codec frame of the chunk (wire.Codec.Encode),
// when that shrinks it by an eighth, else as DATA; DATAZ is numbered with
// DATA (seq) and costs the credit of the bytes it decodes to. The
// receiver reads that size from the frame's header and counts it against
// the window before it allocates anything, so a frame that declares more
// (a bomb) is a peer past its credit and resets the session, as do bytes
// that do not decode, and DATAZ on a session that did not settle on a
// codec. An incompressible stream is tried now and then, not every
// chunk (wire.Skipper). This is separate from a TCP
// connection's compression (tcp.Config.Compress): the inlet knows its
// traffic, the connection only its messages; a compressed chunk does not
// shrink again on a compressing connection, which then skips trying.
//
// # Flow control
//
// Each direction of a session has a credit window, the receiver's
// (Window): a DATA message of n bytes costs n+256 (so one-byte messages
// cannot pin thousands of buffers), the reader reads its socket only
// while it has credit, and the receiver returns CREDIT as it writes to
// its socket, every quarter window and before it writes the peer's EOF. A session's memory is bounded by its window, whatever its peer
// does, and a client that stops reading stops its own session only: the
// others on the same node connection go on. A sender past its credit is
// reset, not buffered.
//
// # Threads and ownership
//
// A session worker's handler runs on a node loop and never blocks: it
// parses, keeps a DATA message (engine.Context.Keep) and queues it for
// the session's writer goroutine, which writes the payload to the socket
// and releases it; it adds credit and wakes the reader. The reader
// goroutine reads the socket through syscall.RawConn.Read, straight into
// a pooled message's payload (wire.Pool.BuildRoom, then SetPayloadLen),
// sized to what the kernel has waiting (SIOCINQ) up to the chunk, and
// sends it from the side's app context (engine.App, safe for concurrent
// use): the bytes go from one socket to the other with no copy between
// but the transports' own. An idle session holds no buffer: its reader
// waits in the poller, its writer is not running. Everything a session
// sends goes from a goroutine, never from a handler, since a send to a
// TCP route may wait for room.
//
// # Failure
//
// An inlet session waits OpenTimeout for OK; ERR, a refusal notice from
// a node on the way, or no answer closes the client's connection with
// the reason logged and counted (Stats.OpenFailed). A session whose link
// goes down (Node.WatchLinks), or that gets a refusal notice, resets its
// socket. DATA refused for backpressure is sent again (below); refused
// for any other reason, it resets the session: the stream is never
// silently cut short. Control messages (everything but DATA) refused for
// backpressure are rebuilt and retried for up to 5 s.
//
// A CLOSE or RESET can still be lost on the way (an overloaded node
// between refuses it) and leave the far session open: so each side sends
// a PROBE every KeepAlive (30 s) to the peer of each session it has heard
// nothing from since the last round. A peer session that is gone is an
// unknown address to its node, whose refusal notice ends this one.
//
// # Backpressure
//
// The credit windows bound what each session has in flight, not what
// all the sessions sharing one node connection have: 32 busy sessions
// put up to 32 MiB in flight (DefaultWindow), more than the TCP transport's outbound
// queue holds by default (tcp.Config.QueueBytes, 4 MiB), and a send to
// a connection a listener accepted (an outlet answering its inlets)
// waits only tcp.Config.PeerSendWait (1 ms) for room. So a session reads
// its socket with MSG_PEEK: the bytes stay in the socket until their
// DATA message has been taken by the node, and leave it then (recv with
// MSG_TRUNC, which copies nothing). A send refused for backpressure
// leaves them there; the session waits (100 µs, doubling to 20 ms) and
// sends them again, for up to 30 s before it gives up and resets. One
// session waiting does not hold up another: each waits on its own.
//
// A node between (a relay node forwarding to a connection a listener
// accepted) that drops DATA for a full queue is beyond the sender's
// reach: the receiver sees the gap in the seqs and resets the session,
// so the stream is never silently cut, but it is cut. Nodes that relay
// busy portals want a QueueBytes above the windows they carry.
package portal
