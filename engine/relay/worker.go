package relay

import (
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// Refusal notices a relay worker sends, at most: a burst, then a rate.
const (
	noticeBurst = 20
	noticeRate  = 10 // a second
)

// noticeText is what a refused message's sender is told: the engine's own
// words for a worker that does not exist or may not be reached, so a
// stranger cannot tell the two apart.
const noticeText = ": no such worker reachable from your link"

// relayWorker is the registrant's worker where everything through the
// relay arrives: the forwarder on the relay node sends to it. It runs on
// one of the node's loops; its fields other than r are the loop's.
//
// A message with one onward address (the worker's own) is for the relay
// itself: a registration's answer or a ping come back. It is read, handed
// to the relay's goroutine if it is one (which takes it only if it
// answers a request of its own, by id), and dropped.
//
// A message with more is traffic through the relay: the worker lets it on
// only if every local address at the front of the rest of its onward
// route, up to the first address that is not local, is one the relay
// allows (Config.Allow, or the node's public services); then it takes
// its own address off the onward route (it does not put itself on the
// return route: replies go straight back over the relay's connection) and
// forwards it. Otherwise the message is dropped, counted (Stats.Refused)
// and its sender told, as the engine tells it, at most noticeRate times a
// second.
type relayWorker struct {
	r      *Relay
	tokens float64
	last   time.Time
}

// HandleMessage lets traffic through or takes a control message.
func (w *relayWorker) HandleMessage(ctx *engine.Context, m *wire.Message) error {
	r := w.r
	if m.OnwardLen() < 2 {
		if m.Flags()&wire.FlagError == 0 {
			r.control(m.Payload())
		}
		return nil
	}
	if i, ok := w.allowed(m); !ok {
		r.stats.refused.Add(1)
		w.refuse(ctx, m, i)
		return nil
	}
	if err := m.Step(); err != nil {
		return err
	}
	r.stats.forwarded.Add(1)
	return ctx.Forward(m)
}

// allowed checks the onward route past the worker's own address; if it
// refuses, it returns the index of the address it refused.
func (w *relayWorker) allowed(m *wire.Message) (int, bool) {
	for i := 1; ; i++ {
		t, v, ok := m.OnwardAt(i)
		if !ok {
			return i, i > 1
		}
		if t != wire.Local {
			return i, i > 1 // the engine's rules decide where it may leave or dial
		}
		if !w.r.allows(v) {
			return i, false
		}
	}
}

// allows reports whether traffic through the relay may reach the local
// worker named v. It does not allocate.
func (r *Relay) allows(v []byte) bool {
	if len(r.cfg.Allow) == 0 {
		return r.node.IsPublic(wire.Local, v)
	}
	for _, a := range r.cfg.Allow {
		if a.Value() == string(v) {
			return true
		}
	}
	return false
}

// refuse answers m, whose onward address i was refused, with a refusal
// notice back along its return route, as the engine would (engine's
// notice.go): same text, the message's origin kept, so it goes back only
// where a reply would. It is rate-limited, and never sent for a notice
// or when there is no one past the relay's link to tell.
func (w *relayWorker) refuse(ctx *engine.Context, m *wire.Message, i int) {
	if m.Flags()&wire.FlagError != 0 || m.ReturnLen() < 2 || !w.take() {
		return
	}
	text := "relay " + w.r.cfg.Name + ": the route ends here"
	if t, v, ok := m.OnwardAt(i); ok {
		text = "relay " + w.r.cfg.Name + ": " + wire.Route{addrOf(t, v)}.String() + noticeText
	}
	if err := m.Turn(ctx.Address()); err != nil {
		return
	}
	if err := m.SetPayload([]byte(text)); err != nil {
		return
	}
	m.SetFlags(wire.FlagError)
	ctx.Forward(m)
}

// addrOf makes an address from a route's bytes, for a notice's text.
func addrOf(t wire.Type, v []byte) wire.Address {
	a, err := wire.NewAddress(t, string(v))
	if err != nil {
		return wire.LocalAddr("?")
	}
	return a
}

// take takes a notice token if there is one.
func (w *relayWorker) take() bool {
	now := time.Now()
	if w.last.IsZero() {
		w.tokens = noticeBurst
	} else {
		w.tokens = min(noticeBurst, w.tokens+now.Sub(w.last).Seconds()*noticeRate)
	}
	w.last = now
	if w.tokens < 1 {
		return false
	}
	w.tokens--
	return true
}
