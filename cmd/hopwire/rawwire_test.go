package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hopwire/hopwire/wire"
)

// A raw codec for the attack benchmark's clients, which must speak to a
// node of today and to one built before the fixes for the attacks
// (4f24913), whose wire differs. It is written out here, byte by byte,
// rather than taken from the wire package, which speaks only today's.
//
//	            old (4f24913)                       new
//	hello       one byte, 1                          wire.Hello: "HW" min max caps (8 bytes)
//	header      onward u8 | return u8 | routes       flags u8 | hops u8 | onward u8 | return u8 | routes
//	TCP frame   length u32 BE | message              the same
//	datagram    message                              version u8 | message
//
// Routes, the same in both: the return route farthest address first, then
// the onward route next first; an address is type u8 | len u8 | value.

// proto is the wire a raw client speaks.
type proto int

const (
	protoOld proto = iota // the node before the fixes
	protoNew              // the node of this tree
)

func (p proto) String() string {
	if p == protoOld {
		return "old"
	}
	return "new"
}

// hello is what a client sends first on a TCP connection.
func (p proto) hello() []byte {
	if p == protoOld {
		return []byte{1}
	}
	return wire.LocalHello(0).Append(nil)
}

// helloLen is the size of the node's hello.
func (p proto) helloLen() int {
	if p == protoOld {
		return 1
	}
	return wire.HelloLen
}

// appendMessage appends a message with routes onward and ret (both next
// address first, as wire.Route prints them) and payload. hops is the hop
// budget, which only the new header has.
func (p proto) appendMessage(b []byte, hops uint8, onward, ret wire.Route, payload []byte) []byte {
	if p == protoNew {
		b = append(b, 0, hops) // flags, hops
	}
	b = append(b, byte(len(onward)), byte(len(ret)))
	for i := len(ret) - 1; i >= 0; i-- { // farthest first
		b = appendAddr(b, ret[i])
	}
	for _, a := range onward {
		b = appendAddr(b, a)
	}
	return append(b, payload...)
}

func appendAddr(b []byte, a wire.Address) []byte {
	b = append(b, byte(a.Type()), byte(len(a.Value())))
	return append(b, a.Value()...)
}

// appendFrame appends a TCP frame: the length, then a message along
// onward, with the default hop budget. A node's reply comes back with
// ret as its onward route: it must not be empty, for a node does not
// send a message with nowhere to go.
func (p proto) appendFrame(b []byte, onward, ret wire.Route, payload []byte) []byte {
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	b = p.appendMessage(b, wire.DefaultHops, onward, ret, payload)
	binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	return b
}

// datagram returns a UDP datagram holding the message.
func (p proto) datagram(hops uint8, onward, ret wire.Route, payload []byte) []byte {
	var b []byte
	if p == protoNew {
		b = append(b, wire.Version)
	}
	return p.appendMessage(b, hops, onward, ret, payload)
}

var errRawHeader = errors.New("raw client: bad message header")

// payload returns the payload of the encoded message msg.
func (p proto) payload(msg []byte) ([]byte, error) {
	i := 0
	if p == protoNew {
		i = 2
	}
	if len(msg) < i+2 {
		return nil, errRawHeader
	}
	n := int(msg[i]) + int(msg[i+1])
	i += 2
	for ; n > 0; n-- {
		if len(msg) < i+2 || len(msg) < i+2+int(msg[i+1]) {
			return nil, errRawHeader
		}
		i += 2 + int(msg[i+1])
	}
	return msg[i:], nil
}

// maxRawFrame bounds the frames a raw client reads: replies to what it
// sent, or what a node injects.
const maxRawFrame = 2 << 20

// readFrame reads one TCP frame from r into buf (grown as needed) and
// returns the message.
func readFrame(r *bufio.Reader, buf []byte) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxRawFrame {
		return nil, fmt.Errorf("raw client: frame of %d bytes", size)
	}
	if cap(buf) < int(size) {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	_, err := io.ReadFull(r, buf)
	return buf, err
}

// detectProto tells the wire of the node listening at addr from the
// first byte of the hello it sends on accepting a connection: 1 for the
// old wire, 'H' for the new.
func detectProto(addr string) (proto, error) {
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(wait))
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return 0, fmt.Errorf("node at %s sent no hello: %w", addr, err)
	}
	switch b[0] {
	case 1:
		return protoOld, nil
	case 'H':
		return protoNew, nil
	}
	return 0, fmt.Errorf("node at %s opened with %#x: neither wire", addr, b[0])
}

// dialRaw connects to a node and sends the hello; it does not read the
// node's.
func dialRaw(p proto, addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		return nil, err
	}
	c.SetWriteDeadline(time.Now().Add(wait))
	if _, err := c.Write(p.hello()); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
