package udp

import (
	"testing"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// UDP through the engine's interface: Listen binds a socket the node
// lists; Connect makes a peer the node talks to, whose Close forgets it.
func TestHandlesThroughTheNode(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echo")
	l, err := server.Listen(wire.UDP, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Allow(l.Flow(), wire.LocalAddr("echo")); err != nil {
		t.Fatal(err)
	}
	if ls := server.Listeners(); len(ls) != 1 || ls[0].Addr != l.Addr() || ls[0].Type != wire.UDP {
		t.Fatalf("Listeners() = %+v, want %v", ls, l.Addr())
	}

	client := newTestNode(t, "client", Config{})
	c, err := client.Connect(wire.UDP, l.Addr().Value())
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr() != l.Addr() {
		t.Fatalf("peer address %v, want %v", c.Addr(), l.Addr())
	}
	app := client.app(t, "app")
	if got, _ := request(t, app, c.Addr().String()+" => echo", "datagram"); got != "datagram" {
		t.Fatalf("reply %q", got)
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
	for _, li := range client.Links() {
		if li.Addr == c.Addr() {
			t.Fatalf("peer %v still listed after Close", li.Addr)
		}
	}
	if _, err := client.Connect(wire.UDP, "not-an-address"); err == nil {
		t.Fatal("Connect to a bad address succeeded")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	<-l.Done()
	if ls := server.Listeners(); len(ls) != 0 {
		t.Fatalf("Listeners() after Close = %+v", ls)
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
