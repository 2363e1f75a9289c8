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
package wire
