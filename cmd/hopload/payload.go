package main

import (
	"bytes"
	"encoding/binary"
)

// A request's payload is a header and a body:
//
//	run u32 | sender u32 | seq u64 | body
//
// all big-endian. The run id is random per run, so that a reply from
// another run (or anything else that reaches a sender's context) is told
// apart; the sender is the index of the sender that sent it; seq counts
// that sender's requests from 0. The body is a fixed pattern per sender,
// so a reply is checked with one comparison against the sender's own
// payload buffer.
const (
	runOff    = 0
	senderOff = 4
	seqOff    = 8
	headerLen = 16
)

// newPayload returns a sender's payload buffer: the header is written
// per request (putSeq), the body once here.
func newPayload(size int, run, sender uint32) []byte {
	p := make([]byte, size)
	binary.BigEndian.PutUint32(p[runOff:], run)
	binary.BigEndian.PutUint32(p[senderOff:], sender)
	for i := headerLen; i < size; i++ {
		p[i] = byte(i*31) ^ byte(sender*7+1)
	}
	return p
}

// putSeq writes seq into the payload's header. It does not allocate.
func putSeq(p []byte, seq uint64) { binary.BigEndian.PutUint64(p[seqOff:], seq) }

// parseHeader reads a reply's header; ok is false when the reply is too
// short to have one. It does not allocate.
func parseHeader(p []byte) (run, sender uint32, seq uint64, ok bool) {
	if len(p) < headerLen {
		return 0, 0, 0, false
	}
	return binary.BigEndian.Uint32(p[runOff:]), binary.BigEndian.Uint32(p[senderOff:]),
		binary.BigEndian.Uint64(p[seqOff:]), true
}

// sameBody reports whether reply has want's length and body (the header
// is checked by the caller).
func sameBody(reply, want []byte) bool {
	return len(reply) == len(want) && bytes.Equal(reply[headerLen:], want[headerLen:])
}
