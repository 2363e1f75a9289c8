// Package udp is hopwire's UDP transport: it carries a node's messages to
// other nodes as UDP datagrams, one message per datagram, with gnet v2 as
// the receiving event loop.
//
// # Using it
//
//	tr, _ := udp.New(node, udp.Config{})  // registers for wire.UDP addresses
//	s, _ := tr.Listen("127.0.0.1:4000")  // a bound socket
//	node.Allow(s.Flow(), wire.LocalAddr("echoer")) // default deny for the network
//
// and on another node a route through "2#127.0.0.1:4000 => echoer"
// reaches the echoer. There is nothing to dial: the first send to a
// host:port resolves it once and caches the socket address.
//
// # Wire
//
// A datagram is a version byte (wire.Version) and one encoded message
// (wire/message.go): header and payload, no length prefix — the
// datagram's length is the frame (wire/frame.go). A datagram of another
// version is dropped and counted; so is one with a flag that needs a
// capability (wire.FlagCompressed), which there is no handshake to offer;
// wire.FlagError, a node's refusal notice, is taken like any message. A
// notice the node sends over UDP is never larger than the datagram it
// answers (engine/notice.go). A datagram over
// Config.MaxDatagram (default 65507, the IPv4 UDP maximum) is refused at
// Send with a *SizeError (errors.Is ErrTooLarge) and counted. There is no
// fragmentation: splitting a message over datagrams would need
// reassembly state per peer, timers and a loss policy for the pieces,
// which is a stream's job; send large payloads over TCP.
//
// UDP delivers at most once, in any order: a datagram lost on the way, or
// dropped because a socket buffer or a mailbox was full, is gone. Nothing
// here retries.
//
// # Hops
//
// As in Ockam: the sending side consumes the transport address (Send
// steps "2#host:port" off the onward route); the receiving side puts the
// sender's address, "2#<ip:port>", at the front of the return route, so a
// reply goes back by UDP to the socket the request came from.
//
// # Sockets and access control
//
// Each peer (remote ip:port) is an engine.Link with a flow of its own,
// spawned by the flow of the socket it was first heard on, or by
// Transport.ClientFlow for a peer this node sent to first. Its messages
// keep that origin through hops and forwarders and reach only what was
// allowed for the peer or its spawner; a message leaves for a peer only
// if the peer's link admits it (engine/access.go: local traffic, a reply,
// a granted reply path, a Forwarder's route, the Hop bridging to a peer
// this node sent to first), and a message from the network never makes
// the node send to a new address unless engine.Config.AllowDial allows
// it. A datagram that claims to come from one of the transport's own
// sockets is dropped and counted (Stats.Spoofed): answering it would be
// the node talking to itself; a loop between nodes ends when the
// message's hop budget does.
//
// A transport has bound sockets (Listen) and one client socket, bound in
// New to Config.ClientAddr (default "0.0.0.0:0": an ephemeral port on the
// unspecified address, so that it can reach any IPv4 destination).
//
//   - Messages received on a bound socket carry its flow (its Flow) as
//     their peer's spawner and reach only the workers the node allowed for
//     it. Default deny. A peer heard first on one socket and then on
//     another has, on the second, that socket's rights; its replies leave
//     from the first.
//   - Send sends to a host:port it has not heard from on the client
//     socket. Datagrams arriving on the client socket are taken as replies
//     to what this node sent: they reach the reply paths of what the node
//     sent and what was allowed for ClientFlow. Because an unconnected
//     socket takes datagrams from anyone, the client socket accepts them
//     only from addresses this node has sent to (the others are dropped
//     and counted as Stats.Unsolicited). UDP source addresses can be
//     forged: on a network where that matters, do not route replies
//     through the client socket.
//   - A reply goes out of the socket its request came in on: the
//     transport remembers, for each peer address, the socket it first
//     heard it on (or the client socket, for a peer it sent to first), so
//     a peer behind a stateful firewall or NAT sees its answer come from
//     the address it wrote to.
//
// The peer table behind both (host:port text → socket address, peer
// ip:port → return address) is bounded by Config.MaxPeers; when it is
// full it is emptied and starts over, so a flood of sources cannot grow
// it. A peer missing from it costs a parse and an allocation or two per
// datagram, nothing more — except on the client socket, where a reply
// from a peer forgotten since the request is dropped as unsolicited.
//
// Only literal IP addresses are accepted in "2#ip:port": resolving a
// name would block the sending worker's event loop.
//
// # Threading
//
// Each socket (bound or client) is its own gnet engine (gnet.Run) with
// one event loop. One, because gnet sets SO_REUSEPORT on every UDP
// socket and binds one socket per loop: with port 0 each loop would get a
// port of its own. The loop reads the socket: OnTraffic gets one
// datagram, copies it once into a pooled message, parses the header and
// hands it to the node with Deliver, which runs the handler right there
// when the worker's event loop is parked, and otherwise queues it on that
// loop's mailbox, waiting for room up to engine.Config.DeliverWait.
//
// Writing is not the loop's job. Send writes the datagram with one
// sendto(2) (MSG_DONTWAIT) from the calling goroutine, on the socket's
// own dup of gnet's descriptor, to a socket address prepared when the
// peer was first seen: no parse, no lock and no allocation on the way.
// A full socket send buffer (EAGAIN, ENOBUFS) drops the datagram and
// returns ErrBusy; Send never waits. Datagram sockets copy on sendto, so
// the message is released when the call returns, on error too.
//
// Where a datagram's latency goes: an idle socket's loop sleeps in
// epoll_wait on a thread of its own, so every datagram that finds it
// asleep costs a thread wake-up, paid partly in the sender's sendto and
// partly in scheduling the loop's thread. Once awake, gnet makes two more
// system calls before OnTraffic runs (recvfrom, and the
// getsockopt(SO_PROTOCOL) x/sys/unix's anyToSockaddr makes for every
// IPv4 sender) and one more (epoll_wait with a zero timeout) before it
// sleeps again. This package's own work, from OnTraffic to the reply's
// sendto through the engine and a worker, is a few per cent of a
// loopback round trip. A raw net.UDPConn ping-pong in one process pays
// neither the wake-ups nor gnet's extra calls (Go's scheduler runs both
// ends on one thread through its netpoller): that, not this package's
// work, is the gap between the two in BenchmarkUDPHopRoundTrip.
//
// Config.BusyPoll closes that gap for a CPU: after a datagram the
// socket's loop goes on reading the socket itself (recvfrom with
// MSG_DONTWAIT into a buffer and sockaddr of its own, poll.go), yielding
// between empty reads, until none has come for BusyPoll. What comes
// meanwhile, a reply or the next request, costs no wake-up and none of
// gnet's allocations (TestBusyPollRoundTripsDoNotAllocate); the loop's
// thread is busy all that time. It stops at once when the socket closes
// and gives the loop back to gnet every maxPolled datagrams.
//
// The gnet calls used, and the contracts relied on (gnet v2.9.4, read
// from its source):
//
//   - gnet.Run("udp://addr", WithNumEventLoop(1)): binds one
//     non-blocking socket, calls OnBoot, runs the loop; returns when the
//     engine has stopped and the loop has exited.
//   - Engine.Dup (OnBoot): the listener's descriptor, dup'ed with
//     CLOEXEC; it shares the O_NONBLOCK file status.
//   - OnTraffic: one call per datagram, on the loop. Conn.Next(-1) is a
//     view of the loop's read buffer (ReadBufferCap, sized over
//     MaxDatagram so a larger datagram shows as too large rather than
//     silently truncated), valid until OnTraffic returns.
//     Conn.RemoteAddr is the sender, a *net.UDPAddr. The gnet.Conn itself
//     is released after OnTraffic: it is not kept.
//   - Engine.Stop: starts the shutdown at once but polls every 500 ms
//     for its end, so socket.Close waits for gnet.Run to return instead.
//
// # Allocations
//
// Send allocates nothing once the peer is known, and neither does this
// package's receive path (OnTraffic: sender lookup, copy into a pooled
// message, parse, return address, Deliver), nor its own drops (empty,
// too large, unsolicited); alloc_test.go holds both to zero. What a
// datagram costs is gnet's: before OnTraffic runs, eventloop.readUDP
// (eventloop_unix.go) allocates five objects, 448 bytes, for an IPv4
// sender:
//
//   - unix.Recvfrom (x/sys/unix, syscall_unix.go): its RawSockaddrAny,
//     112 B, which escapes into anyToSockaddr;
//   - anyToSockaddr (syscall_linux.go): the *SockaddrInet4 it returns
//     as a unix.Sockaddr, 32 B;
//   - newUDPConn (connection_unix.go): a fresh *conn per datagram on a
//     listening socket, 240 B, and the method value el.readUDP stored in
//     its PollAttachment, 16 B;
//   - socket.SockaddrToUDPAddr (pkg/socket/sockaddr.go), called by
//     newUDPConn: the *net.UDPAddr behind Conn.RemoteAddr, 48 B (its IP
//     aliases the SockaddrInet4).
//
// gnet offers no way around them: readUDP is unexported, reads with
// unix.Recvfrom into nothing of the caller's and builds a new Conn per
// datagram (gnet v2.10.0 is the same). An IPv6 sender costs a larger
// sockaddr, and one with a zone also an interface lookup by index in
// SockaddrToUDPAddr. A request and its reply, two datagrams, are thus
// 10 allocations and about 900 bytes (BenchmarkUDPHopRoundTrip), all of
// them gnet's (TestRoundTripAllocatesOnlyInGnet). With Config.BusyPoll,
// only the datagram that wakes a sleeping loop goes through gnet's read.
//
// Beyond that, allocations are per event, not per datagram: the first
// datagram from a new peer makes its peer entry (learnAP), and a dropped
// datagram that gets logged (at most once a second per cause, over the
// transport's sockets) makes the log record. Errors from other packages
// allocate as those packages do: an undecodable datagram (wire's
// *DecodeError), a message the engine refuses (denied, unknown worker,
// full mailbox).
//
// # Platform
//
// The raw sendto and the socket-address layout are Linux's
// (sockaddr_linux.go); another Unix needs its own version of that file.
package udp
