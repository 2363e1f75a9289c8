package bench

import (
	"errors"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// The workers the hopwire side of the scenarios is made of. Each runs on
// one loop; the benchmark goroutine sets their fields only while no
// message is on its way to them (before the kick, after done), and the
// kick's push and done's close order those writes with the loop's reads.

// pinger bounces one message along a route and back, rounds times, then
// closes done. The first message it gets is the kick from the benchmark:
// it turns that into the message that circulates, so the payload is copied
// once, at the kick, and never again.
//
// With hist set it records each round trip in it (the network scenarios;
// a clock read per hop would weigh on the local ones).
type pinger struct {
	route   wire.Route
	rounds  int
	started bool
	done    chan struct{}
	hist    *hdrhistogram.Histogram
	sent    time.Time
}

func (p *pinger) HandleMessage(ctx *engine.Context, m *wire.Message) error {
	if !p.started {
		p.started = true
		if err := m.Turn(ctx.Address()); err != nil {
			return err
		}
		if err := m.Redirect(p.route); err != nil {
			return err
		}
		p.stamp()
		return ctx.Forward(m)
	}
	if p.hist != nil {
		_ = p.hist.RecordValue(int64(time.Since(p.sent)))
	}
	if p.rounds--; p.rounds == 0 {
		close(p.done)
		return nil
	}
	p.stamp()
	// Each round is a new request, with a hop budget of its own: the
	// message is reused, not bounced in a loop.
	m.SetHops(wire.DefaultHops)
	return ctx.Reply(m)
}

func (p *pinger) stamp() {
	if p.hist != nil {
		p.sent = time.Now()
	}
}

// source sends count messages along route, sourceBurst at a time: after
// each burst it forwards the kick to itself again, so its loop runs the
// burst through the chain before it makes the next one. It does not touch
// its fields once its last message is sent: with the sink on another
// loop, the benchmark may set them for the next stream before the
// source's handler has returned.
type source struct {
	route   wire.Route
	payload []byte
	count   int
	_       [cacheLinePad]byte // see cacheLinePad
}

// sourceBurst is how many messages a source sends per kick.
const sourceBurst = 64

func (s *source) HandleMessage(ctx *engine.Context, kick *wire.Message) error {
	for range sourceBurst {
		if s.count == 0 {
			return nil
		}
		s.count--
		last := s.count == 0
		if err := ctx.Send(s.route, s.payload); err != nil {
			s.count++
			if errors.Is(err, engine.ErrMailboxFull) {
				break // pushed back: try again after the loop's other work
			}
			return err
		}
		if last {
			return nil
		}
	}
	return ctx.Forward(kick) // its onward route is [source]: back to us
}

// sink counts messages down from want and closes done at zero.
type sink struct {
	want int
	done chan struct{}
	_    [cacheLinePad]byte // see cacheLinePad
}

// cacheLinePad keeps the fields a source or sink writes per message off
// the cache lines of its neighbours: the chains of a scaling scenario run
// on loops of their own, and their small workers, allocated one after
// another, would otherwise share lines (two, with the adjacent-line
// prefetcher) and slow each other down.
const cacheLinePad = 128

func (s *sink) HandleMessage(_ *engine.Context, _ *wire.Message) error {
	if s.want--; s.want == 0 {
		close(s.done)
	}
	return nil
}
