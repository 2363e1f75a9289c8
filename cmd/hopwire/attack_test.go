//go:build linux

package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hopwire/hopwire/wire"
)

// BenchmarkUnderAttack runs `hopwire node run` as a new user would
// (a TCP listener and a UDP socket on loopback, an echoer and a hop) and,
// for each attack of the security issue (issue 7), a good client beside
// the attacker: 500 requests a second to the echoer over TCP, open loop,
// for attackTime. It reports what the good client saw and what the node
// cost:
//
//	good_sent      requests written (good_unsent: due but not written, the node not reading)
//	good_lost      requests written and never answered (within a second after the run)
//	good_p50_ms    latency of the answered ones, from when each was due
//	good_p99_ms
//	node_rss_MiB   the node's largest RSS, sampled every 100 ms
//	node_killed    1 if the node passed rssLimit and was killed
//	node_cpu_ms    the node's CPU time during the run
//	injected       frames the good client got that answer none of its requests
//
// and what each attack adds (see the attack functions: attack_*, big_*
// for a second client with 1 MiB requests, peer_* for udp-loop's second
// node, dialed_out). ns/op means nothing here. The node is the test binary,
// or the hopwire binary named by HOPWIRE_BIN, run as `BIN node run ...`:
// that is how an old build is measured (the clients detect its wire from
// its hello, see rawwire_test.go):
//
//	HOPWIRE_BIN=/tmp/hopwire-old go test -run '^$' -bench UnderAttack -benchtime 1x ./cmd/hopwire
//
// Each attack runs once however large b.N is (later calls report the
// first's figures), for attackTime: 3 s, HOPWIRE_ATTACK_TIME if set, 1 s
// under -short. There are no timing assertions.
func BenchmarkUnderAttack(b *testing.B) {
	for _, a := range attacks {
		var r map[string]float64 // one run per sub-benchmark, whatever b.N
		b.Run(a.name, func(b *testing.B) {
			if r == nil {
				r = runAttack(b, a)
			}
			for unit, v := range r {
				b.ReportMetric(v, unit)
			}
		})
	}
}

const (
	goodRate   = 500 // requests a second
	goodGrace  = time.Second
	rssLimit   = 4 << 30
	nodeStop   = 2 * time.Second // a node's time to stop before it is killed
	maxAttempt = 2000            // bound on an attacker's sends that are not otherwise bounded
)

// attack is one of the security issue's attacks. setup runs before the
// good client starts (the second node, a listener, what the attacker must
// know); run is the attacker, beside the good client until env.end.
type attack struct {
	name  string
	peer  bool // start a second node (udp-loop)
	setup func(*attackEnv)
	run   func(*attackEnv)
}

var attacks = []attack{
	{name: "baseline"},
	{name: "unread-replies-small", run: unreadSmall},
	{name: "unread-replies-1MiB", run: unreadLarge},
	{name: "partial-frames", run: withBigProbe(partialFrames)},
	{name: "prefix-only", run: withBigProbe(prefixOnly)},
	{name: "udp-loop", peer: true, run: udpLoop},
	{name: "udp-loop-spoofed", peer: true, setup: spoofSetup, run: udpLoopSpoofed},
	{name: "hop-injection", setup: hopInjectionSetup, run: hopInjection},
}

// attackEnv is what an attack works with.
type attackEnv struct {
	b     *testing.B
	proto proto
	node  *proc // the node under attack: A
	peer  *proc // the second node, B (udp-loop)
	good  *goodClient
	end   time.Time // when the attacker stops

	mu      sync.Mutex
	metrics map[string]float64
	state   any // setup's, for run
}

func (e *attackEnv) report(unit string, v float64) {
	e.mu.Lock()
	e.metrics[unit] = v
	e.mu.Unlock()
}

// startNode runs `hopwire node run args...`: the test binary as hopwire,
// or the binary HOPWIRE_BIN names.
func startNode(t testing.TB, args ...string) *proc {
	t.Helper()
	args = append([]string{"node", "run", "--exit-on-eof"}, args...)
	if bin := os.Getenv("HOPWIRE_BIN"); bin != "" {
		return startCmd(t, exec.Command(bin, args...), "hopwire")
	}
	return startProc(t, "hopwire", args...)
}

// nodeArgs is the node as a new user runs it.
func nodeArgs(name string) []string {
	return []string{"--name", name, "--tcp-listen", "127.0.0.1:0", "--udp-bind", "127.0.0.1:0",
		"--echo", "echoer", "--hop", "hop"}
}

func attackTime() time.Duration {
	if s := os.Getenv("HOPWIRE_ATTACK_TIME"); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			return d
		}
	}
	if testing.Short() {
		return time.Second
	}
	return 3 * time.Second
}

func runAttack(b *testing.B, a attack) map[string]float64 {
	node := startNode(b, nodeArgs("A")...)
	p, err := detectProto(node.addr)
	if err != nil {
		b.Fatal(err)
	}
	e := &attackEnv{b: b, proto: p, node: node, metrics: map[string]float64{}}
	if a.peer {
		e.peer = startNode(b, nodeArgs("B")...)
	}
	if e.good, err = dialGood(p, node.addr); err != nil {
		b.Fatal(err)
	}
	if a.setup != nil {
		a.setup(e)
	}
	watch := watchProc(node, rssLimit)
	var peerWatch *procWatch
	if e.peer != nil {
		peerWatch = watchProc(e.peer, rssLimit)
	}
	cpu0 := watch.CPU()
	var peerCPU0 time.Duration
	if peerWatch != nil {
		peerCPU0 = peerWatch.CPU()
	}
	e.end = time.Now().Add(attackTime())

	var wg sync.WaitGroup
	if a.run != nil {
		wg.Go(func() { a.run(e) })
	}
	e.good.run(goodRate, e.end, goodGrace)
	wg.Wait()

	e.report("node_cpu_ms", float64(watch.CPU()-cpu0)/1e6)
	rss, killed := watch.stop()
	if peerWatch != nil {
		e.report("peer_cpu_ms", float64(peerWatch.CPU()-peerCPU0)/1e6)
		peerRSS, peerKilled := peerWatch.stop()
		e.report("peer_rss_MiB", float64(peerRSS)/(1<<20))
		killed = killed || peerKilled
	}
	g := e.good.result()
	e.report("good_sent", float64(g.sent))
	e.report("good_unsent", float64(g.due-g.sent))
	e.report("good_lost", float64(g.sent-g.answered))
	e.report("good_p50_ms", float64(g.p50)/1e6)
	e.report("good_p99_ms", float64(g.p99)/1e6)
	e.report("injected", float64(g.unexpected))
	e.report("node_rss_MiB", float64(rss)/(1<<20))
	e.report("node_killed", b2f(killed))

	node.stop(nodeStop)
	if e.peer != nil {
		e.peer.stop(nodeStop)
	}
	if testing.Verbose() {
		b.Logf("%s node: %s", p, lastLine(node.stderrText(), "stopping"))
	}
	return e.metrics
}

func b2f(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

// lastLine returns the last line of text that contains s.
func lastLine(text, s string) string {
	lines := strings.Split(text, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], s) {
			return lines[i]
		}
	}
	return "(no " + s + " line)"
}

// unreadSmall: one connection floods the echoer with 64-byte requests as
// fast as it can and never reads a reply. attack_frames: requests
// written.
func unreadSmall(e *attackEnv) {
	c, err := dialRaw(e.proto, e.node.addr)
	if err != nil {
		e.b.Error(err)
		return
	}
	defer c.Close()
	var batch []byte
	echoer, self := wire.MustParseRoute("echoer"), wire.MustParseRoute("attacker")
	payload := make([]byte, 64)
	const perBatch = 256
	for range perBatch {
		batch = e.proto.appendFrame(batch, echoer, self, payload)
	}
	frame := len(batch) / perBatch
	c.SetWriteDeadline(e.end)
	frames := 0
	for time.Now().Before(e.end) {
		n, err := c.Write(batch)
		frames += n / frame
		if err != nil {
			break
		}
	}
	e.report("attack_frames", float64(frames))
}

// unreadLarge: one connection sends 1 MiB echo requests, at most
// maxAttempt of them, and never reads a reply. attack_frames: requests
// written.
func unreadLarge(e *attackEnv) {
	c, err := dialRaw(e.proto, e.node.addr)
	if err != nil {
		e.b.Error(err)
		return
	}
	defer c.Close()
	frame := e.proto.appendFrame(nil, wire.MustParseRoute("echoer"), wire.MustParseRoute("attacker"), make([]byte, 1<<20))
	c.SetWriteDeadline(e.end)
	frames := 0
	for ; frames < maxAttempt && time.Now().Before(e.end); frames++ {
		if _, err := c.Write(frame); err != nil {
			break
		}
	}
	e.report("attack_frames", float64(frames))
}

// partialFrames: 40 connections each send the length prefix of a 16 MiB
// frame and 4 MiB of it, then go quiet; 200 more send only the prefix.
// attack_conns_cut: how many of the 240 the node had closed by the end.
func partialFrames(e *attackEnv) {
	const (
		bodies   = 40
		prefixes = 200
		declared = 16 << 20 // the largest frame both nodes take
		sent     = 4 << 20
	)
	head := binary.BigEndian.AppendUint32(make([]byte, 0, sent+4), declared)
	body := e.proto.appendMessage(head, wire.DefaultHops, wire.MustParseRoute("echoer"), wire.MustParseRoute("attacker"), nil)
	body = body[:sent+4]
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range bodies + prefixes {
		if !time.Now().Before(e.end) {
			break
		}
		c, err := dialRaw(e.proto, e.node.addr)
		if err != nil {
			break // out of descriptors, or refused
		}
		conns = append(conns, c)
		c.SetWriteDeadline(time.Now().Add(time.Second))
		if i < bodies {
			c.Write(body) // a node that closes the connection fails it: counted below
		} else {
			c.Write(body[:4])
		}
	}
	time.Sleep(time.Until(e.end))
	e.report("attack_conns", float64(len(conns)))
	e.report("attack_conns_cut", float64(countCut(conns)))
}

// prefixOnly: 1024 connections each send a length prefix of 16 MiB and
// nothing more: 4 bytes each (after the hello), 4 KiB in all, which the
// new node counts as 64 KiB each against its 64 MiB budget for
// incomplete frames (tcp.Config.MaxPendingBytes), filling it. Not an
// attack of the issue's: it shows what the budget costs other peers (see
// withBigProbe). attack_conns_cut: how many the node had closed by the
// end.
func prefixOnly(e *attackEnv) {
	const n = 1024
	prefix := binary.BigEndian.AppendUint32(nil, 16<<20)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		if !time.Now().Before(e.end) {
			break
		}
		c, err := dialRaw(e.proto, e.node.addr)
		if err != nil {
			break
		}
		conns = append(conns, c)
		c.SetWriteDeadline(time.Now().Add(time.Second))
		c.Write(prefix)
	}
	time.Sleep(time.Until(e.end))
	e.report("attack_conns", float64(len(conns)))
	e.report("attack_conns_cut", float64(countCut(conns)))
}

// countCut returns how many of conns the node has closed: those that
// read an EOF or a reset, past the node's hello, within 20 ms.
func countCut(conns []net.Conn) int {
	var cut atomic.Int32
	var wg sync.WaitGroup
	deadline := time.Now().Add(20 * time.Millisecond)
	for _, c := range conns {
		wg.Go(func() {
			c.SetReadDeadline(deadline)
			buf := make([]byte, 64)
			for range 3 {
				if _, err := c.Read(buf); err != nil {
					var ne net.Error
					if !errors.As(err, &ne) || !ne.Timeout() {
						cut.Add(1)
					}
					return
				}
			}
		})
	}
	wg.Wait()
	return int(cut.Load())
}

// withBigProbe runs attack beside a second good client that sends one
// 1 MiB echo request at a time, every bigEvery, and waits up to a second
// for each reply: a peer whose frames arrive in more than one read, and
// so are held as incomplete frames for a while. big_sent, big_lost:
// its requests and those not answered; big_cut: the times the node
// closed its connection (it dials again).
func withBigProbe(attack func(*attackEnv)) func(*attackEnv) {
	return func(e *attackEnv) {
		var wg sync.WaitGroup
		wg.Go(func() { attack(e) })
		bigProbe(e)
		wg.Wait()
	}
}

const bigEvery = 200 * time.Millisecond

func bigProbe(e *attackEnv) {
	frame := e.proto.appendFrame(nil, wire.MustParseRoute("echoer"), wire.MustParseRoute("big"), make([]byte, 1<<20))
	var (
		c                net.Conn
		r                *bufio.Reader
		buf              []byte
		sent, lost, cuts int
	)
	defer func() {
		if c != nil {
			c.Close()
		}
		e.report("big_sent", float64(sent))
		e.report("big_lost", float64(lost))
		e.report("big_cut", float64(cuts))
	}()
	// Let the attacker go first.
	time.Sleep(min(time.Until(e.end)/4, time.Second))
	for next := time.Now(); sent < maxAttempt && next.Before(e.end); next = next.Add(bigEvery) {
		time.Sleep(time.Until(next))
		if c == nil {
			var err error
			if c, err = dialRaw(e.proto, e.node.addr); err != nil {
				return
			}
			r = bufio.NewReader(c)
			c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := io.ReadFull(r, make([]byte, e.proto.helloLen())); err != nil {
				c.Close()
				c = nil
				continue
			}
		}
		sent++
		c.SetDeadline(time.Now().Add(time.Second))
		_, err := c.Write(frame)
		if err == nil {
			buf, err = readFrame(r, buf)
		}
		if err != nil {
			lost++
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				cuts++
			}
			c.Close()
			c = nil
		}
	}
}

// udpLoop: one datagram to node A along hop => 2#B => echoer, node B
// being a second node like A. The aim of the attack is two echoers
// answering each other for ever; without a forged source address no
// route from the network does that to the old node either (see
// udpLoopSpoofed). On the old node this one goes A's hop -> B's echoer
// -> A's hop -> back to the attacker, and stops; on the new one A's hop
// may not send to an address it has not heard from. attack_replies:
// datagrams that came back to the attacker. The node_cpu_ms and
// peer_cpu_ms say whether anything kept running.
func udpLoop(e *attackEnv) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		e.b.Error(err)
		return
	}
	defer c.Close()
	to, err := net.ResolveUDPAddr("udp", e.node.udp)
	if err != nil {
		e.b.Error(err)
		return
	}
	d := e.proto.datagram(wire.DefaultHops, wire.MustParseRoute("hop => 2#"+e.peer.udp+" => echoer"), wire.MustParseRoute("attacker"), []byte("loop?"))
	if _, err := c.WriteTo(d, to); err != nil {
		e.b.Error(err)
		return
	}
	c.SetReadDeadline(e.end)
	replies := 0
	buf := make([]byte, 64<<10)
	for ; replies < maxAttempt; replies++ {
		if _, _, err := c.ReadFrom(buf); err != nil {
			break
		}
	}
	e.report("attack_replies", float64(replies))
}

// udpLoopSpoofed is the loop the issue describes: one datagram to A's
// echoer whose source address is forged to be B's UDP socket and whose
// return route ends in an echoer. A's echoer answers B's, B's answers
// A's, and so on: for ever on the old node, until the hop budget (which
// the attacker sets to its largest, 255) is spent on the new one.
// Forging needs a raw socket (CAP_NET_RAW), which an attacker has on its
// own machine; the benchmark skips it without. node_cpu_ms and
// peer_cpu_ms are the two nodes' CPU time during the run.
func udpLoopSpoofed(e *attackEnv) {
	fd := e.state.(int)
	defer syscall.Close(fd)
	from, to := mustAddrPort(e.b, e.peer.udp), mustAddrPort(e.b, e.node.udp)
	echoer := wire.MustParseRoute("echoer")
	msg := e.proto.datagram(255, echoer, echoer, []byte("loop!"))
	pkt := udpPacket(from, to, msg)
	sa := &syscall.SockaddrInet4{Addr: to.Addr().As4()}
	if err := syscall.Sendto(fd, pkt, 0, sa); err != nil {
		e.b.Error(err)
	}
}

// spoofSetup opens the raw socket udpLoopSpoofed forges its datagram
// with, or skips the attack.
func spoofSetup(e *attackEnv) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if err != nil {
		e.good.conn.Close()
		e.b.Skipf("forging a source address needs a raw socket: %v", err)
	}
	e.state = fd
}

// hopInjection: one connection sends hop => 1#L => x, L a TCP listener of
// the benchmark's, and then, every 10 ms, hop => 0#G => x, G the node's
// worker for the good client's connection: on the old node a hop sent
// anything anywhere. dialed_out: 1 if the node connected to L.
// injected: frames the good client got that answer none of its requests.
//
// The good client's connection id is the node's: it never leaves the
// new node. It is read here from the node's log (the line about a
// message the good client sends to a worker that does not exist), as a
// stand-in for an attacker that learnt it somehow: on the old node it
// could, by having the node dial it.
func hopInjectionSetup(e *attackEnv) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.b.Fatal(err)
	}
	s := &injectState{l: l, accepted: make(chan struct{})}
	e.state = s
	go s.accept()
	if err := e.good.send(wire.MustParseRoute("no-such-worker"), []byte("who am I")); err != nil {
		e.b.Fatal(err)
	}
	re := regexp.MustCompile(`conn=(0#[0-9a-f]+) peer=` + regexp.QuoteMeta(e.good.conn.LocalAddr().String()))
	for stop := time.Now().Add(wait); time.Now().Before(stop); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(e.node.stderrText()); m != nil {
			s.victim = m[1]
			return
		}
	}
	l.Close()
	<-s.accepted
	e.b.Fatalf("the node logged no connection id for the good client; stderr:\n%s", e.node.stderrText())
}

type injectState struct {
	l        net.Listener
	dialed   atomic.Int32
	accepted chan struct{} // closed when accept returns
	victim   string
}

func (s *injectState) accept() {
	defer close(s.accepted)
	for range maxAttempt {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.dialed.Add(1)
		c.Close()
	}
}

func hopInjection(e *attackEnv) {
	s := e.state.(*injectState)
	defer func() {
		s.l.Close()
		<-s.accepted
		e.report("dialed_out", b2f(s.dialed.Load() > 0))
	}()
	c, err := dialRaw(e.proto, e.node.addr)
	if err != nil {
		e.b.Error(err)
		return
	}
	defer c.Close()
	c.SetWriteDeadline(e.end)
	self := wire.MustParseRoute("attacker")
	dial := e.proto.appendFrame(nil, wire.MustParseRoute("hop => 1#"+s.l.Addr().String()+" => x"), self, []byte("dial out"))
	if _, err := c.Write(dial); err != nil {
		return
	}
	inject := e.proto.appendFrame(nil, wire.MustParseRoute("hop => "+s.victim+" => x"), self, []byte("INJECTED"))
	frames := 0
	for ; frames < maxAttempt && time.Now().Before(e.end); frames++ {
		if _, err := c.Write(inject); err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.report("attack_frames", float64(frames))
}

func mustAddrPort(t testing.TB, s string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(s)
	if err != nil || !ap.Addr().Is4() {
		t.Fatalf("want an IPv4 ip:port, got %q (%v)", s, err)
	}
	return ap
}

// udpPacket builds an IPv4 UDP packet from from to to, for a raw socket
// (IPPROTO_RAW: the caller writes the IP header; the kernel fills in its
// checksum). The UDP checksum is left 0: none, which IPv4 allows.
func udpPacket(from, to netip.AddrPort, payload []byte) []byte {
	const ipLen, udpLen = 20, 8
	p := make([]byte, ipLen+udpLen+len(payload))
	p[0] = 0x45 // version 4, 5 words of header
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[8] = 64 // TTL
	p[9] = syscall.IPPROTO_UDP
	src, dst := from.Addr().As4(), to.Addr().As4()
	copy(p[12:], src[:])
	copy(p[16:], dst[:])
	binary.BigEndian.PutUint16(p[ipLen:], from.Port())
	binary.BigEndian.PutUint16(p[ipLen+2:], to.Port())
	binary.BigEndian.PutUint16(p[ipLen+4:], uint16(udpLen+len(payload)))
	copy(p[ipLen+udpLen:], payload)
	return p
}
