// Package wire owns what a message is on the wire and in memory:
// addresses and routes, the message header and its in-place rewrite, stream
// framing, pooled message buffers, the encoding limits and decode errors.
//
// A Message is a pooled element: a buffer with headroom in front of the
// header, so that a hop rewrites the header in place and the payload is
// never moved (see message.go for the layout). A Message has one owner at a
// time; whoever holds it hands it on or calls Release, and in test binaries
// any use of a released message panics (own.go, which also says how an
// event loop lends a message to a handler). Pool hands Messages out and is
// safe for concurrent use; Cache is a per-goroutine free list in front of
// it. BuildRoom makes a message with room for a reader to fill its payload
// in place.
//
// Decoding never panics and never reads outside its input: bad input is a
// *DecodeError saying what was wrong and where (FuzzDecode checks it).
// Encoding refuses routes and addresses over the limits up front, so a
// receiver never meets them.
//
// Refusal notices. A node that drops a message from the network because
// it cannot go on (its next worker does not exist or may not be reached
// from where it came, or it asks the node to dial where it may not) may
// answer with a notice, an ordinary message, framed as any other (a TCP
// frame, a UDP datagram behind its version byte):
//
//	flags u8 = FlagError (0x02) | hops u8 | onwardCount u8 | returnCount u8 = 0 | onward addresses | text
//
// Its onward route is the refused message's return route, nearest first
// (what Turn would make of it), so it goes back the way a reply would;
// its return route is empty; its payload is one line of UTF-8 text, no
// longer than a couple of hundred bytes, usually prefixed with the name
// of the node that refused ("n1: 0#echo: no such worker reachable from
// your link"). Nothing answers a notice, and a notice that cannot go on
// is dropped without one.
package wire
