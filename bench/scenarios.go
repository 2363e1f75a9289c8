package bench

import "strconv"

// Scenarios returns the in-process scenarios, in the order Run runs them.
// Each call returns a fresh slice.
func Scenarios() []Scenario {
	return []Scenario{
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
		chainScenario(3),
		chainScenario(10),
	}
}

func chainScenario(k int) Scenario {
	n := strconv.Itoa(k)
	return Scenario{
		Name:           n + "-hop chain pipelined",
		Baseline:       n + "-stage chan chain",
		About:          "a source worker streams 64 B messages through " + n + " engine.Hop workers to a sink, all on loop 0, vs " + n + " goroutines linked by buffered channels doing the same in-place Hop",
		Unit:           UnitMsgsPerSec,
		HigherIsBetter: true,
		PayloadBytes:   chainPayload,
		RunHopwire:     chain(k),
		RunBaseline:    chanChain(k),
	}
}
