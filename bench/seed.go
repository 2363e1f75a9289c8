package bench

import (
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/wire"
)

// The seed's route with its three nodes as three OS processes: an
// initiator in this process, the middle node (forward_to_responder) and
// the responder (echoer) as hopwire node run processes; four TCP legs a
// round trip. The baseline is the same topology in plain Go: a relay
// process and an echo process (ProcMain).

// seedProcs is GOMAXPROCS for the node and baseline processes alike: the
// README's deployment for more busy processes than CPUs (three on two),
// where idle Ps only add wake-ups.
const seedProcs = "GOMAXPROCS=1"

func seedScenario() Scenario {
	return Scenario{
		Name:         "seed route 3 processes",
		Baseline:     "raw relay + echo processes",
		About:        "a pinger in this process -> middle node -> responder's echoer and back, the two nodes hopwire node run processes; vs a plain Go TCP relay process and echo process on the same four legs; every process GOMAXPROCS=1",
		Unit:         UnitP50RTT,
		PayloadBytes: 64,
		Setup:        setupSeed,
	}
}

func setupSeed(e *Env) (Sides, error) {
	withProcs := func(cmd *exec.Cmd) *exec.Cmd {
		cmd.Env = append(cmd.Environ(), seedProcs)
		return cmd
	}
	responder, err := e.start(withProcs(exec.Command(e.hopwire, "node", "run", "--name", "responder",
		"--tcp-listen", "127.0.0.1:0", "--echo", "echoer", "--exit-on-eof")))
	if err != nil {
		return Sides{}, err
	}
	middle, err := e.start(withProcs(exec.Command(e.hopwire, "node", "run", "--name", "middle",
		"--tcp-listen", "127.0.0.1:0", "--exit-on-eof",
		"--forward", "forward_to_responder=1#"+responder.addr+" => echoer")))
	if err != nil {
		return Sides{}, err
	}
	echo, err := e.start(withProcs(e.proc("raw-echo")))
	if err != nil {
		return Sides{}, err
	}
	relay, err := e.start(withProcs(e.proc("raw-relay", echo.addr)))
	if err != nil {
		return Sides{}, err
	}
	route, err := wire.ParseRoute("1#" + middle.addr + " => forward_to_responder")
	if err != nil {
		return Sides{}, err
	}
	return Sides{
		Hopwire: func(b *testing.B) {
			client := netNode(b, "initiator")
			if _, err := tcp.New(client, tcp.Config{EventLoops: 1}); err != nil {
				fatalf(b, "tcp: %v", err)
			}
			netPingPong(b, client, route, 64)
		},
		Baseline: func(b *testing.B) { connPingPong(b, dial(b, relay.addr), 64) },
	}, nil
}

// dial connects to addr on loopback; the connection closes when b's run
// ends, and a stalled peer fails the run instead of hanging it.
func dial(b *testing.B, addr string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fatalf(b, "dial %s: %v", addr, err)
	}
	b.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(patience(netWarmup + b.N)))
	return c
}
