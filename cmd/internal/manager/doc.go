// Package manager is a node's node manager and its client: the service
// the hopwire CLI, a short-lived process, reconfigures a running node
// through (start services, open listeners and connections, send a
// message), and the CLI's side of it.
//
// # Who can reach it
//
// The manager is a worker of the node it manages (an app context at
// "_manager") reached over hopwire routing itself: the node's Unix
// transport listens on a socket in the node's state directory, mode
// 0600 in a 0700 directory, and only that listener's flow is allowed to
// reach "_manager". A message from the network addressed to it (over a
// TCP or UDP listener, through a public hop or a forwarder, from a
// relay) is refused by the engine's default deny and counted in
// engine.Stats.Denied; as a second lock, the manager itself drops and
// counts ("manager" counter "foreign") any request whose origin is not
// its listener. Names that start with "_" are the node's own: services
// may not take them (nor "~", the engine's request tags).
//
// # Requests in flight
//
// Each request is handled on a goroutine of its own, so a slow one
// (a connection.create dialing, a message.send waiting for its reply)
// holds up nobody else. Requests are budgeted in two classes, MaxInFlight
// each: quick ops, and the two that wait on the network; past its
// class's budget a request is answered busy at once, so slow requests
// cannot crowd out node.show. A client that stops reading, or leaves a
// frame half sent, is the transport's to cut (its slow-consumer and
// frame timeouts); it costs the manager nothing.
//
// # Encoding (protocol version 1)
//
// A request is the payload of a hopwire message sent to "_manager"; the
// response is the payload of the reply, along the request's return
// route. Both are one CBOR (RFC 8949) map with small unsigned integer
// keys; unknown keys are ignored, so a later version may add some:
//
//	request   {1: version (uint, 1), 2: op (text), 3: args (a map, the op's; may be absent)}
//	response  {1: version (uint, 1), 2: code (uint), 3: error (text, one line; absent when 0), 4: body (the op's; may be absent)}
//
// For example, node.show is these 14 bytes (the op's 9 as text):
//
//	a2 01 01 02 69 6e 6f 64 65 2e 73 68 6f 77   {1: 1, 2: "node.show"}
//
// and a service.start: {1: 1, 2: "service.start", 3: {1: "echo", 2: "echoer"}}.
//
// A request is at most MaxRequest bytes (64 KiB). Decoding is strict and
// capped: definite lengths only, no tags, valid UTF-8, no duplicate keys,
// nesting at most 8 deep, at most 4096 array elements or map pairs. A
// request that breaks any of this is answered with code 1 and why; one
// of another version with code 7 ("the node manager speaks protocol
// version 1, the request is version 2: ..."), so a newer CLI talking to
// an older node says so. Times are RFC 3339 text.
//
// Codes:
//
//	0 ok           1 bad request    2 unknown op    3 not found
//	4 exists       5 busy           6 failed        7 version
//
// Ops (args and bodies are maps with the keys shown; "-" is none):
//
//	op                 args                                     body
//	node.show          -                                        NodeInfo {1: name, 2: pid, 3: started, 4: [ListenerInfo], 5: [ServiceInfo], 6: [ConnInfo], 7: {group: {counter: uint}}}
//	service.start      {1: kind "echo"|"hop"|"uppercase", 2: name}  ServiceInfo {1: name, 2: kind}
//	service.list       -                                        [ServiceInfo], by name
//	service.stop       {2: name}                                -
//	listener.create    {1: type "tcp"|"udp", 2: addr host:port} ListenerInfo {1: type "tcp"|"udp"|"unix", 2: addr (host:port or path), 3: flow}
//	listener.list      {1: type} (optional, "" all)             [ListenerInfo], oldest first
//	listener.delete    {1: type (optional), 2: addr}            -
//	connection.create  {1: type "tcp"|"udp", 2: addr host:port} ConnInfo {1: addr "0#<32 hex>"|"2#ip:port", 2: type, 3: peer, 4: dialed}
//	connection.list    -                                        [ConnInfo], by addr
//	connection.delete  {2: addr}                                -
//	message.send       {1: route (text), 2: payload (bytes), 3: timeout (ms, 0: 5 s, at most 60 s)}  {1: reply payload (bytes)}
//	relay.create       {1: name, 2: at "1#host:port", 3: [allowed service names]}  RelayInfo {1: name, 2: forward, 3: at, 4: state, 5: since, 6: last error, 7: hosted}
//	relay.list         -                                        [RelayInfo]: the node's relays by name, then those it hosts
//	relay.delete       {1: name}                                -
//	outlet.create      {1: name, 2: target host:port}           PortalInfo {1: kind "outlet"|"inlet", 2: name, 3: target, 4: listen, 5: route, 6: sessions, 7: open, 8: bytes in, 9: bytes out, 10: failed, 11: resets, 12: compress, 13: saved in, 14: saved out}
//	outlet.list        -                                        [PortalInfo], by name
//	outlet.delete      {1: name}                                -
//	inlet.create       {3: listen host:port, 4: route (text), 5: compress "s2"|"zstd"|""}  PortalInfo
//	inlet.list         -                                        [PortalInfo], by listen address
//	inlet.delete       {3: listen}                              -
//
// What the ops do, and their errors:
//
//   - service.start starts engine.Echo, engine.Hop or engine.Uppercase
//     at the local address name and allows every flow to reach it: a
//     service is public, reachable through every listener, those opened
//     later too. A taken name: code 4, `service "NAME" already exists on
//     node NODE`; an unknown kind: code 1 naming the kinds.
//   - service.stop stops only what service.start started: code 3 else.
//   - listener.create opens a listener with the node's transport
//     (engine.Node.Listen); a port in use: code 6 with the system's
//     words (`listen tcp 127.0.0.1:4000: bind: address already in use`).
//     listener.delete closes only what listener.create (or
//     Server.Listen) opened, never the manager's own socket.
//   - connection.create dials (engine.Node.Connect) and may take up to
//     the transport's dial timeout; connection.delete closes only what
//     connection.create opened. connection.list and node.show list every
//     link of the node but the manager's own clients'.
//   - message.send has the node send the payload along the route from
//     an app context of its own ("_msg-N", closed after) and answers
//     with the reply's payload; no reply in time is code 6, `no reply
//     from ROUTE within 2s`. The message is local traffic: the node's
//     owner speaks for it.
//   - relay.create registers the node at the relay node at
//     (engine/relay.Create) and answers once the registration is done; the
//     relay then keeps itself alive (pings, reconnection) until
//     relay.delete or the node stops. A name this node has: code 4; a name
//     another node holds at the relay node: code 6, `... relay name NAME is
//     taken`.
//
// node.show's counters are "engine" (engine.Stats), "manager"
// (requests, foreign, busy, failed) and whatever Config.Counters adds
// (e.g. the transports' "tcp" and "udp" counters).
package manager
