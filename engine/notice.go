package engine

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hopwire/hopwire/wire"
)

// Refusal notices: telling a remote sender why a message it sent was
// dropped on this node, so that it is not left waiting for a reply that
// cannot come (bounces, bounce.go, do the same for this node's own app
// contexts).
//
// When. A message from the network (Meta().Flow != 0) that this node
// drops because its next local worker does not exist or may not be
// reached from its origin (route), or because it asks the node to open a
// link Config.AllowDial does not allow (admitDial), is answered with a
// notice: wire.FlagError, one line of text, along the message's return
// route, nearest first, with an empty return route of its own and a
// fresh hop budget (wire/doc.go has the bytes). Unknown and denied share
// one text, so a stranger cannot probe which workers exist.
//
// Never for a notice (no loops), for local traffic (its sender gets the
// error, or a bounce), for a message whose return route names nothing
// past the link it came in over (there is no one to tell), or while the
// node closes. A worker that answers what it gets with messages of its
// own (not Reply, whose notice would have no return route to go back
// along) drops notices, as Echo and Uppercase do, or two nodes could
// keep each other busy at the rate limit.
//
// How it leaves. The notice keeps the refused message's origin (not its
// Via), so access control treats it as a reply: it reaches only workers
// that origin may reach and leaves over the link the message came in on
// (or a reply path granted to it), never opening a new one. It is sent
// from a task on one of the node's loops, never from inside the route
// or transport that refused: nothing re-enters them.
//
// Not a reflector. A node sends at most noticeBurst notices at once and
// noticeRate a second after that (one bucket per node); the rest are
// counted (Stats.NoticesHeld) and not sent. The text is at most
// maxNoticeText bytes. A notice whose route crosses UDP, where a sender's
// address can be forged, is never larger than the message it answers:
// its text is cut to fit (to nothing, if it must: the notice still says
// "refused"). Over TCP and Unix sockets, whose peers cannot forge their
// address, only the text's cap applies.

// Refusal-notice limits.
const (
	noticeRate    = 100 // notices a second, after the burst
	noticeBurst   = 100 // notices sent at once before the rate applies
	maxNoticeText = 200 // bytes of text in a notice
)

// noticeText is the text of a notice for a message whose next worker
// does not exist or may not be reached: one text for both.
const noticeText = ": no such worker reachable from your link"

// noticeBucket is the node's token bucket for notices, as GCRA: tat is
// when the bucket will be full again, on the monotonic clock.
type noticeBucket struct{ tat atomic.Int64 }

var noticeEpoch = time.Now()

// allow takes a token if there is one. Safe for concurrent use.
func (b *noticeBucket) allow() bool {
	const interval = int64(time.Second) / noticeRate
	now := int64(time.Since(noticeEpoch))
	for {
		old := b.tat.Load()
		next := max(old, now) + interval
		if next-now > noticeBurst*interval {
			return false
		}
		if b.tat.CompareAndSwap(old, next) {
			return true
		}
	}
}

// refuseUnknown sends a notice for m, a message whose next local worker,
// at v, does not exist or may not be reached from its origin. m is
// still the caller's.
func (n *Node) refuseUnknown(m *wire.Message, v []byte) {
	if !n.owesNotice(m) {
		return
	}
	n.notify(m, "0#"+string(v)+noticeText)
}

// refuseDial sends a notice for m, which asked the node to open a link to
// dest that it may not. m is still the caller's.
func (n *Node) refuseDial(m *wire.Message, dest wire.Type, value []byte) {
	if !n.owesNotice(m) {
		return
	}
	addr := strconv.Itoa(int(dest)) + "#" + string(value)
	if m.Meta().Via == viaHop {
		n.notify(m, "hop may not dial "+addr+" (the node's allow-dial list does not allow it)")
		return
	}
	n.notify(m, "remote traffic may not make this node dial "+addr)
}

// owesNotice reports whether a refusal of m is to be answered: m came
// from the network, is not a notice itself, has a return route past the
// link it came in on, and the node is not closing. It is the cheap test,
// made before any text is built.
func (n *Node) owesNotice(m *wire.Message) bool {
	return m.FromNetwork() && m.Flags()&wire.FlagError == 0 && m.ReturnLen() >= 2 && !n.closing.Load()
}

// notify builds the notice for m with text (prefixed with the node's name
// if it was given one) and posts it to a loop, which routes it. m is
// still the caller's; the notice is built from it now.
func (n *Node) notify(m *wire.Message, text string) {
	if !n.noticeTokens.allow() {
		n.stats.noticesHeld.Add(1)
		return
	}
	if n.named {
		text = n.cfg.Name + ": " + text
	}
	text = cutText(text, maxNoticeText)
	ret := m.Return() // nearest first: the notice's onward route
	// The notice is its header (4 bytes and m's return route as its
	// onward route) and its text; m has at least one onward address
	// more, so a notice with no text always fits.
	if head := 4 + len(m.ReturnBytes()); crossesUDP(ret) && head+len(text) > m.Len() {
		text = cutText(text, m.Len()-head)
	}
	nm, err := n.pool.Build(ret, nil, []byte(text))
	if err != nil {
		n.stats.noticesHeld.Add(1)
		return
	}
	nm.SetFlags(wire.FlagError)
	o := m.Meta()
	setMeta(nm, wire.Meta{Flow: o.Flow, Spawner: o.Spawner}) // a reply's origin, no Via
	// Counted in as an external sender, so that Close, which waits for
	// those before it stops the loops, finds the task queued ahead of its
	// own: the notice is routed or released, never left behind.
	l := n.loops[o.Flow%uint64(len(n.loops))]
	if !n.enter() {
		nm.Release()
		return
	}
	posted := l.post(func() { n.sendNotice(l, nm) })
	n.exit()
	if !posted {
		n.stats.noticesHeld.Add(1)
		nm.Release()
		return
	}
	n.stats.noticesSent.Add(1)
}

// sendNotice routes a notice from a task on l.
func (n *Node) sendNotice(l *loop, nm *wire.Message) {
	if n.closing.Load() {
		nm.Release()
		return
	}
	if err := n.route(l, nil, nm, send{}); err != nil {
		n.log.Debug("refusal notice not delivered", "err", err)
	}
}

// crossesUDP reports whether r names a UDP address: a route whose
// messages leave over a transport whose senders' addresses can be forged.
func crossesUDP(r wire.Route) bool {
	for _, a := range r {
		if a.Type() == wire.UDP {
			return true
		}
	}
	return false
}

// cutText returns s cut to at most n bytes, on a rune boundary.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// RefusedError is what an app context's Receive returns for a refusal
// notice (wire.FlagError): a node on the way dropped a message this
// context sent, and Text, that node's one line, says why. Request returns
// it when it answers its own request. errors.Is(err, ErrDenied) holds.
type RefusedError struct {
	Text string // the notice's text, as the refusing node wrote it, made printable
	tag  string // the refused request's tag, "" if none
}

func (e *RefusedError) Error() string { return "engine: refused: " + e.Text }
func (e *RefusedError) Unwrap() error { return ErrDenied }

// refused makes the error for nm, a notice an app context received, and
// releases nm. The text comes from the network: it is cut to
// maxNoticeText bytes, made valid UTF-8 and kept on one printable line.
func refused(nm *wire.Message) *RefusedError {
	p := nm.Payload()
	if len(p) > maxNoticeText {
		p = p[:maxNoticeText]
	}
	text := strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(p), "\uFFFD"))
	e := &RefusedError{Text: text}
	if t, v, ok := nm.OnwardAt(1); ok && t == wire.Local && isReqTag(v) {
		e.tag = string(v)
	}
	nm.Release()
	return e
}
