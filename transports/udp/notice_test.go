package udp

import (
	"errors"
	"strings"
	"testing"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// A worker the server does not have, over UDP: a *RefusedError, its text
// cut to the size of the request (a node answering forged datagrams must
// not amplify them), whole when the request was as large.
func TestRefusedUnknownWorker(t *testing.T) {
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echo")
	s := server.bind(t, "echo")
	client := newTestNode(t, "client", Config{})
	app := client.app(t, "app")
	const text = "server: 0#nosuch: no such worker reachable from your link"
	for _, payload := range []string{"x", strings.Repeat("x", len(text))} {
		_, err := app.Request(wire.MustParseRoute(s.Addr().String()+" => nosuch"), []byte(payload), wait)
		var re *engine.RefusedError
		if !errors.As(err, &re) || !errors.Is(err, engine.ErrDenied) || !strings.HasPrefix(text, re.Text) {
			t.Fatalf("Request to an unknown worker: %v", err)
		}
		if len(payload) > 1 && re.Text != text {
			t.Fatalf("refused %q, want %q", re.Text, text)
		}
	}
	if got, _ := request(t, app, s.Addr().String()+" => echo", "still"); got != "still" {
		t.Fatalf("reply %q", got)
	}
	if st := client.tr.Stats(); st.BadDatagram != 0 {
		t.Fatalf("client stats %+v: a notice is no bad datagram", st)
	}
}
