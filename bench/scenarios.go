package bench

import (
	"runtime"
	"strconv"
	"testing"
	"time"
)

// Scenarios returns the scenarios, in the order Run runs them: in-process
// first, then over sockets on 127.0.0.1, then with nodes and baselines as
// OS processes. Each call returns a fresh slice.
func Scenarios() []Scenario {
	return append(append(inProcess(), seedScenario()), portalScenarios()...)
}

func inProcess() []Scenario {
	scs := []Scenario{
		{
			Name:         "local hop",
			Baseline:     "chan ping-pong",
			About:        "pinger and engine.Echo on one loop turn a 64 B message round, vs two goroutines doing the same over two buffered channels",
			Unit:         UnitNsPerHop,
			PayloadBytes: 64,
			RunHopwire:   pingPong(0, 64),
			RunBaseline:  chanPingPong(64),
		},
		{
			Name:         "local hop 64KiB",
			Baseline:     "local hop 64B",
			About:        "the local hop with a 64 KiB payload vs with 64 B: a ratio near 1 shows hop cost does not grow with the payload",
			Unit:         UnitNsPerHop,
			PayloadBytes: 64 << 10,
			RunHopwire:   pingPong(0, 64<<10),
			RunBaseline:  pingPong(0, 64),
		},
		{
			Name:         "cross-loop ping-pong",
			Baseline:     "chan ping-pong",
			About:        "pinger on loop 0, engine.Echo on loop 1: every hop crosses loops through a mailbox, wake-ups included; vs two goroutines over channels",
			Unit:         UnitNsPerHop,
			PayloadBytes: 64,
			RunHopwire:   pingPong(1, 64),
			RunBaseline:  chanPingPong(64),
		},
		chainScenario(1),
		chainScenario(3),
		{
			Name:           "cross-loop chain pipelined",
			Baseline:       "3-stage chan chain",
			About:          "the 3-hop chain with every hop crossing loops, through a mailbox, wake-ups included: source on loop 0, h1 on loop 1, h2 on loop 0, h3 on loop 1, sink on loop 0; vs 3 goroutines linked by buffered channels doing the same in-place Hop",
			Unit:           UnitMsgsPerSec,
			HigherIsBetter: true,
			PayloadBytes:   chainPayload,
			AllocsNote:     crossAllocs,
			RunHopwire:     chain(3, crossLoops(1, 2)),
			RunBaseline:    chanChain(3),
		},
		chainScenario(10),
	}
	scs = append(scs, scaleScenarios(runtime.GOMAXPROCS(0))...)
	return append(scs, []Scenario{
		{
			Name:         "TCP hop",
			Baseline:     "raw TCP ping-pong",
			About:        "a pinger on one node, engine.Echo on another, request and reply over one TCP connection on 127.0.0.1, vs two net.Conn doing the same ping-pong; the median round trip",
			Unit:         UnitP50RTT,
			PayloadBytes: 64,
			RunHopwire:   tcpHop(64),
			RunBaseline:  rawTCPPingPong(64),
		},
		{
			Name:           "TCP pipelined",
			Baseline:       "raw TCP stream",
			About:          "a worker streams 64 B messages over one TCP connection to a counting worker on another node, vs the same payloads length-prefixed through bufio over a net.Conn",
			Unit:           UnitMsgsPerSec,
			HigherIsBetter: true,
			PayloadBytes:   64,
			MinBenchTime:   streamBenchTime,
			RunHopwire:     tcpPipelined(64),
			RunBaseline:    rawTCPStream(64),
		},
		{
			Name:         "UDP hop",
			Baseline:     "raw UDP ping-pong",
			About:        "a pinger on one node, engine.Echo on another, one datagram each way on 127.0.0.1, vs two net.UDPConn doing the same ping-pong; the median round trip. Each UDP socket's gnet loop sleeps on a thread of its own, so every datagram wakes one; the raw pair shares one thread through Go's netpoller",
			Unit:         UnitP50RTT,
			PayloadBytes: 64,
			AllocsNote:   "gnet allocates 5 objects per datagram it reads (transports/udp doc)",
			Bimodal:      "each datagram wakes a sleeping socket thread, and how long the VM takes to wake one flips between levels from run to run (22-24 µs or 65-86 µs here)",
			RunHopwire:   udpHop(64, 0),
			RunBaseline:  rawUDPPingPong(64),
		},
		{
			Name:         "UDP hop busy-poll",
			Baseline:     "raw UDP ping-pong",
			About:        "the UDP hop with udp.Config.BusyPoll 50µs on both nodes: the socket loops read on without sleeping, trading CPU for latency",
			Unit:         UnitP50RTT,
			PayloadBytes: 64,
			AllocsNote:   "gnet's read allocates for a datagram that finds a loop asleep",
			Bimodal:      "a socket loop that polls needs a CPU of its own: when other work takes the second CPU, polling fights the peer it waits for and the round trip jumps from about 14 µs to about 90 µs",
			RunHopwire:   udpHop(64, 50*time.Microsecond),
			RunBaseline:  rawUDPPingPong(64),
		},
	}...)
}

// crossAllocs says why a stream whose hops cross loops may allocate in a
// short run: it holds thousands of messages in flight between the loops'
// mailboxes, and sync.Pool drops idle buffers at a GC, which the pool
// then builds again. In a run of a second (--benchtime 1s) it allocates
// nothing.
const crossAllocs = "none in a run of 1s; a short one may rebuild pooled buffers a GC dropped (thousands in flight between the loops)"

func chainScenario(k int) Scenario {
	n := strconv.Itoa(k)
	return Scenario{
		Name:           n + "-hop chain pipelined",
		Baseline:       n + "-stage chan chain",
		About:          "a source worker streams 64 B messages through " + n + " engine.Hop workers to a sink, all on loop 0, vs " + n + " goroutines linked by buffered channels doing the same in-place Hop",
		Unit:           UnitMsgsPerSec,
		HigherIsBetter: true,
		PayloadBytes:   chainPayload,
		Bimodal:        "both sides flip between two levels from round to round (the 1-hop chain: hopwire's loop 5.2-7.4 or 9.1-10.5 M msgs/s, the channel chain 3.1-4.5 or 1.6-2.1 M; quick runs of 2026-11-28), by how the VM places and wakes the threads, so the median moves with the mix",
		RunHopwire:     chain(k, ownLoops(1, benchLoops)),
		RunBaseline:    chanChain(k),
	}
}

// scaleHops is the length of each chain of the scaling scenarios.
const scaleHops = 3

// scaleScenarios returns, for each n in 2, 4, 8 … up to procs, three
// scenarios whose ratio is the efficiency at n: the rate of n chains (on
// n loops; on n loops, every hop crossing; as goroutine channel chains)
// over n times the rate of one.
func scaleScenarios(procs int) []Scenario {
	// rate is one of them: a 64 B stream in msgs/s, higher is better.
	rate := func(name, baseline, about, allocs string, hopwire, base func(*testing.B)) Scenario {
		return Scenario{Name: name, Baseline: baseline, About: about, AllocsNote: allocs,
			Unit: UnitMsgsPerSec, HigherIsBetter: true, PayloadBytes: chainPayload,
			RunHopwire: hopwire, RunBaseline: base}
	}
	var scs []Scenario
	for n := 2; n <= procs; n *= 2 {
		ns := strconv.Itoa(n)
		efficiency := "msgs/s at " + ns + " ÷ (" + ns + " × msgs/s at 1)"
		sizes := ". There is one for each N in 2, 4, 8 … up to GOMAXPROCS: a 2-core machine shows only N=2, and the figure means much only on a bigger one"
		one := chainTimes(scaleHops, ownLoops(1, 1), n)
		scs = append(scs,
			rate("scale "+ns+" loops", ns+" x 1 loop",
				ns+" independent 3-hop chains (source, 3 engine.Hop workers, sink) on a node of "+ns+" loops, chain i all on loop i, kicked at once, streaming 64 B messages, b.N in all; vs one such chain on a 1-loop node, its rate times "+ns+": the ratio is the efficiency, "+efficiency+sizes,
				"", chain(scaleHops, ownLoops(n, n)), one),
			rate("scale "+ns+" loops crossing", ns+" x 1 loop",
				"the "+ns+" chains on "+ns+" loops with chain i's stage j (source 0, hops 1-3, sink 4) on loop (i+j) mod "+ns+", so every hop crosses loops; vs one chain on a 1-loop node (same-loop: msgs/s at 1), its rate times "+ns+": the ratio is the efficiency, "+efficiency+sizes,
				crossAllocs, chain(scaleHops, crossLoops(n, n)), one),
			rate("scale "+ns+" chan chains", ns+" x 1 chan chain",
				ns+" independent 3-stage channel chains (as the 3-stage chan chain) fed at once by "+ns+" goroutines, b.N messages in all; vs one channel chain, its rate times "+ns+": the channel world's efficiency, "+efficiency+", for reference"+sizes,
				"no hopwire on either side: the chains' channels hold up to 4 × 4096 messages each, more than the warm-up builds, so their one wire.Pool grows through a short run",
				chanChains(scaleHops, n, 1), chanChains(scaleHops, 1, n)))
	}
	return scs
}
