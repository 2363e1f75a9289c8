package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/hopwire/hopwire/wire"
)

// goodClient is the well-behaved peer beside an attacker: one TCP
// connection to the node's echoer, requests sent open loop at a fixed
// rate, each with its own id in the payload so its reply is matched.
// Latency runs from the time a request was due, not from when it went
// out, so a client held up by the node counts the wait (no coordinated
// omission).
type goodClient struct {
	proto proto
	conn  net.Conn
	route wire.Route // the echoer
	ret   wire.Route // the client's own, where replies go

	mu         sync.Mutex
	start      time.Time
	every      time.Duration
	sentAt     []bool // by id: written
	got        []bool // by id: answered
	hist       *hdrhistogram.Histogram
	sent       int
	answered   int
	unexpected int // frames that answer no request of ours
}

// goodTag starts every good request's payload; the id follows.
var goodTag = []byte("good")

const goodPayload = 64

// dialGood connects a good client to the node at addr and completes the
// handshake.
func dialGood(p proto, addr string) (*goodClient, error) {
	c, err := dialRaw(p, addr)
	if err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(wait))
	hello := make([]byte, p.helloLen())
	if _, err := io.ReadFull(c, hello); err != nil {
		c.Close()
		return nil, fmt.Errorf("good client: no hello from the node: %w", err)
	}
	c.SetDeadline(time.Time{})
	return &goodClient{proto: p, conn: c, route: wire.MustParseRoute("echoer"), ret: wire.MustParseRoute("good"), hist: hdrhistogram.New(1, int64(time.Minute), 3)}, nil
}

// send writes one frame along route outside the measured requests.
func (g *goodClient) send(route wire.Route, payload []byte) error {
	g.conn.SetWriteDeadline(time.Now().Add(wait))
	_, err := g.conn.Write(g.proto.appendFrame(nil, route, g.ret, payload))
	return err
}

// run sends rate requests a second until end, then waits up to grace for
// the replies still missing, and closes the connection.
func (g *goodClient) run(rate int, end time.Time, grace time.Duration) {
	g.start = time.Now()
	g.every = time.Second / time.Duration(rate)
	n := max(0, int(end.Sub(g.start)/g.every))
	g.sentAt, g.got = make([]bool, n), make([]bool, n)

	read := make(chan struct{})
	go func() {
		defer close(read)
		g.read()
	}()
	g.conn.SetWriteDeadline(end)
	payload := make([]byte, goodPayload)
	copy(payload, goodTag)
	var frame []byte
	for id := 0; id < n; id++ {
		due := g.start.Add(time.Duration(id) * g.every)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		binary.BigEndian.PutUint64(payload[len(goodTag):], uint64(id))
		frame = g.proto.appendFrame(frame[:0], g.route, g.ret, payload)
		g.mu.Lock()
		g.sentAt[id] = true // before the write: the reply may beat Write's return
		g.mu.Unlock()
		if _, err := g.conn.Write(frame); err != nil {
			g.mu.Lock()
			g.sentAt[id] = false
			g.mu.Unlock()
			break // the deadline, or the node closed the connection
		}
		g.mu.Lock()
		g.sent++
		g.mu.Unlock()
	}
	for stop := time.Now().Add(grace); time.Now().Before(stop); time.Sleep(10 * time.Millisecond) {
		g.mu.Lock()
		all := g.answered == g.sent
		g.mu.Unlock()
		if all {
			break
		}
	}
	g.conn.Close()
	<-read
}

// read matches replies to requests until the connection closes.
func (g *goodClient) read() {
	r := bufio.NewReader(g.conn)
	var buf []byte
	for {
		msg, err := readFrame(r, buf)
		if err != nil {
			return
		}
		buf = msg
		now := time.Now()
		p, err := g.proto.payload(msg)
		g.mu.Lock()
		if id, ok := goodID(p, err); ok && id < len(g.got) && g.sentAt[id] && !g.got[id] {
			g.got[id] = true
			g.answered++
			g.hist.RecordValue(int64(now.Sub(g.start.Add(time.Duration(id) * g.every))))
		} else {
			g.unexpected++
		}
		g.mu.Unlock()
	}
}

func goodID(p []byte, err error) (int, bool) {
	if err != nil || len(p) != goodPayload || !bytes.HasPrefix(p, goodTag) {
		return 0, false
	}
	id := binary.BigEndian.Uint64(p[len(goodTag):])
	return int(min(id, 1<<31)), true
}

// goodResult is what a run of a good client measured.
type goodResult struct {
	due, sent, answered, unexpected int
	p50, p99                        time.Duration
}

func (g *goodClient) result() goodResult {
	g.mu.Lock()
	defer g.mu.Unlock()
	return goodResult{
		due: len(g.got), sent: g.sent, answered: g.answered, unexpected: g.unexpected,
		p50: time.Duration(g.hist.ValueAtQuantile(50)),
		p99: time.Duration(g.hist.ValueAtQuantile(99)),
	}
}
