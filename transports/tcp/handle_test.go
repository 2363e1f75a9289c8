package tcp

import (
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// The transport through the engine's interface only: a listener and a
// connection made by address type, listed by the node, closed by their
// handles, with Done saying so.
func TestHandlesThroughTheNode(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echo")
	l, err := server.Listen(wire.TCP, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Allow(l.Flow(), wire.LocalAddr("echo")); err != nil {
		t.Fatal(err)
	}
	if ls := server.Listeners(); len(ls) != 1 || ls[0].Addr != l.Addr() || ls[0].Type != wire.TCP {
		t.Fatalf("Listeners() = %+v, want %v", ls, l.Addr())
	}

	client := newTestNode(t, "client", Config{})
	c, err := client.Connect(wire.TCP, l.Addr().Value())
	if err != nil {
		t.Fatal(err)
	}
	app := client.app(t, "app")
	if got, _ := request(t, app, c.Addr().String()+" => echo", "over the handle"); got != "over the handle" {
		t.Fatalf("reply %q", got)
	}
	if links := client.Links(); len(links) != 1 || links[0].Addr != c.Addr() || links[0].Flow != c.Flow() || !links[0].Dialed {
		t.Fatalf("Links() = %+v, want the connection %v", links, c.Addr())
	}

	// One request out, one reply in, on both sides, counted per
	// connection and kept when it closes.
	checkTraffic(t, "client", client.tr.Stats)
	checkTraffic(t, "server", server.tr.Stats)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	checkTraffic(t, "client after Close", client.tr.Stats)
	if links := client.Links(); len(links) != 0 {
		t.Fatalf("Links() after Close = %+v", links)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	<-l.Done()
	if ls := server.Listeners(); len(ls) != 0 {
		t.Fatalf("Listeners() after Close = %+v", ls)
	}
	if _, err := client.Connect(wire.TCP, l.Addr().Value()); err == nil {
		t.Fatal("Connect to a closed listener succeeded")
	}
}

// checkTraffic waits for stats to show a message each way: a writer
// counts after its write returns, which may be after the peer has read it.
func checkTraffic(t *testing.T, who string, stats func() Stats) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		s := stats()
		if s.MessagesIn >= 1 && s.MessagesOut >= 1 && s.BytesIn >= s.MessagesIn && s.BytesOut >= s.MessagesOut {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s traffic: in %d msgs %d B, out %d msgs %d B", who, s.MessagesIn, s.BytesIn, s.MessagesOut, s.BytesOut)
		}
		time.Sleep(time.Millisecond)
	}
}
