package tcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/wire"
)

// Many connections to one listener, all open at once, each carrying its
// own requests and replies.
func TestManyConnections(t *testing.T) {
	conns, rounds, workers := 1000, 3, 50
	if testing.Short() {
		conns = 200
	}
	server := newTestNode(t, "server", Config{})
	server.start(t, engine.Echo{}, "echoer")
	l := server.listen(t, "echoer")
	client := newTestNode(t, "client", Config{})

	addrs := make([]wire.Address, conns)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < conns; i += workers {
				c, err := client.tr.Connect(l.Addr().Value())
				if err != nil {
					errs <- fmt.Errorf("connect %d: %w", i, err)
					return
				}
				addrs[i] = c.Addr()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if s := server.tr.Stats(); s.Accepted != uint64(conns) || s.Open != int64(conns) {
		t.Fatalf("server stats %+v, want %d open", s, conns)
	}

	// Every connection is open while workers exchange messages over all
	// of them at once.
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			app, err := client.NewContext(wire.LocalAddr(fmt.Sprintf("app%d", w)))
			if err != nil {
				t.Error(err)
				return
			}
			defer app.Close()
			for r := 0; r < rounds; r++ {
				for i := w; i < conns; i += workers {
					want := fmt.Sprintf("conn %d round %d", i, r)
					reply, err := app.Request(wire.Route{addrs[i], wire.MustParseAddress("echoer")}, []byte(want), wait)
					if err != nil {
						t.Errorf("%s: %v", want, err)
						return
					}
					if got := string(reply.Payload()); got != want || reply.Return()[0] != addrs[i] {
						t.Errorf("%s: reply %q over %v", want, got, reply.Return()[0])
					}
					reply.Release()
				}
			}
		}(w)
	}
	wg.Wait()
	if s := client.tr.Stats(); s.Open != int64(conns) || s.DialErrors != 0 {
		t.Fatalf("client stats %+v", s)
	}
}

// seqChecker records, per sender, that sequence numbers arrive in order
// and none is missing or repeated.
type seqChecker struct {
	next  []uint32
	count atomic.Int64
	bad   atomic.Int64
}

func (s *seqChecker) HandleMessage(_ *engine.Context, m *wire.Message) error {
	p := m.Payload()
	sender, seq := binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:])
	if s.next[sender] != seq {
		s.bad.Add(1)
	}
	s.next[sender] = seq + 1
	s.count.Add(1)
	return nil
}

// Many goroutines send over one connection at once, with a queue small
// enough to fill: every message arrives once, in each sender's order.
// This drives the writer role through every hand-off: direct writes,
// bursts to the flusher, full queues.
func TestConcurrentSendersOneConnection(t *testing.T) {
	senders, each := 8, 5000
	if testing.Short() {
		each = 500
	}
	server, err := engine.NewNode(engine.Config{Name: "server", Loops: 1, MailboxSize: 1 << 17})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		server.Close()
		if live := server.Pool().Live(); live != 0 {
			t.Errorf("server: %d messages alive after Close", live)
		}
	}()
	str, err := New(server, Config{})
	if err != nil {
		t.Fatal(err)
	}
	check := &seqChecker{next: make([]uint32, senders)}
	if err := server.StartWorker(check, wire.LocalAddr("check")); err != nil {
		t.Fatal(err)
	}
	l, err := str.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server.Allow(l.Flow(), wire.LocalAddr("check"))

	client := newTestNode(t, "client", Config{QueueLen: 64, QueueBytes: 8 << 10})
	route := wire.MustParseRoute(l.Addr().String() + " => check")
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			app, err := client.NewContext(wire.LocalAddr(fmt.Sprintf("sender%d", s)))
			if err != nil {
				t.Error(err)
				return
			}
			defer app.Close()
			p := make([]byte, 8+s*100)
			binary.BigEndian.PutUint32(p, uint32(s))
			for i := 0; i < each; {
				binary.BigEndian.PutUint32(p[4:], uint32(i))
				switch err := app.Send(route, p); {
				case err == nil:
					i++
				case errors.Is(err, ErrQueueFull):
					runtime.Gosched()
				default:
					t.Errorf("sender %d message %d: %v", s, i, err)
					return
				}
			}
		}(s)
	}
	wg.Wait()
	total := int64(senders * each)
	eventually(t, "every message", func() bool { return check.count.Load() >= total || server.Stats().MailboxFull > 0 })
	if got, bad := check.count.Load(), check.bad.Load(); got != total || bad != 0 {
		t.Fatalf("%d of %d arrived, %d out of order; server stats %+v", got, total, bad, server.Stats())
	}
	t.Logf("client transport stats %+v", client.tr.Stats())
}
