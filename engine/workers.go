package engine

import "github.com/hopwire/hopwire/wire"

// Echo replies to every message with its own payload; a refusal notice
// (wire.FlagError) it drops: answering one would send it back.
type Echo struct{}

// HandleMessage turns m round.
func (Echo) HandleMessage(ctx *Context, m *wire.Message) error {
	if m.Flags()&wire.FlagError != 0 {
		return nil
	}
	return ctx.Reply(m)
}

// Hop passes every message on to the next address of its onward route,
// putting its own address on the return route so replies come back
// through it; refusal notices too, as Forwarder does.
type Hop struct{}

// HandleMessage moves m one hop on.
func (Hop) HandleMessage(ctx *Context, m *wire.Message) error {
	if err := m.Hop(); err != nil {
		return err
	}
	return ctx.Forward(m)
}

// Uppercase replies to every message with its payload's ASCII letters
// upper-cased, in place; a refusal notice (wire.FlagError) it drops, as
// Echo does.
type Uppercase struct{}

// HandleMessage upper-cases m's payload and turns m round.
func (Uppercase) HandleMessage(ctx *Context, m *wire.Message) error {
	if m.Flags()&wire.FlagError != 0 {
		return nil
	}
	p := m.Payload()
	for i, c := range p {
		if 'a' <= c && c <= 'z' {
			p[i] = c - ('a' - 'A')
		}
	}
	return ctx.Reply(m)
}

// Forwarder replaces its own address at the front of a message's onward
// route with Route and passes the message on; the return route is left as
// it is, so replies go back the way the message came (the seed's
// forward_to_responder).
type Forwarder struct {
	Route wire.Route
}

// HandleMessage redirects m along f.Route.
func (f Forwarder) HandleMessage(ctx *Context, m *wire.Message) error {
	if err := m.Redirect(f.Route); err != nil {
		return err
	}
	return ctx.Forward(m)
}
