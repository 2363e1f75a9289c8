package engine

import (
	"testing"

	"github.com/hopwire/hopwire/wire"
)

// A link described by its transport is in the node's registry and its
// watchers hear it come up; closing it takes it out, closes Done and
// tells them it went down.
func TestLinkRegistryAndEvents(t *testing.T) {
	n := newNode(t, Config{})
	app := mustContext(t, n, "watcher")
	if err := n.WatchLinks(wire.LocalAddr("watcher")); err != nil {
		t.Fatal(err)
	}
	if err := n.WatchLinks(wire.LocalAddr("nobody")); err == nil {
		t.Fatal("WatchLinks for an unknown address")
	}
	l := n.newLink(7, true)
	if len(n.Links()) != 0 {
		t.Fatal("a link not yet up is listed")
	}
	addr := wire.MustParseAddress("0#conn")
	l.Describe(wire.TCP, addr, "127.0.0.1:9")
	got := n.Links()
	if len(got) != 1 || got[0].Flow != l.Flow() || got[0].Spawner != 7 || !got[0].Dialed || got[0].Addr != addr || got[0].Peer != "127.0.0.1:9" {
		t.Fatalf("registry %+v", got)
	}
	for _, want := range []LinkEventKind{LinkUp, LinkDown} {
		if want == LinkDown {
			l.Close()
			select {
			case <-l.Done():
			default:
				t.Fatal("Done not closed")
			}
		}
		m, err := app.Receive(wait)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := ParseLinkEvent(m)
		m.Release()
		if err != nil || ev.Kind != want || ev.Link.Flow != l.Flow() || ev.Link.Addr != addr || ev.Link.Type != wire.TCP {
			t.Fatalf("event %+v, %v; want kind %d", ev, err, want)
		}
	}
	if len(n.Links()) != 0 {
		t.Fatal("a closed link is listed")
	}
	// Not an event: refused.
	m, _ := n.Pool().Build(wire.MustParseRoute("x"), nil, []byte("hello"))
	defer m.Release()
	if _, err := ParseLinkEvent(m); err != ErrNotLinkEvent {
		t.Fatalf("ParseLinkEvent of a plain message: %v", err)
	}
}
