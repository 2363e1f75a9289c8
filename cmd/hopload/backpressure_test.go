package main

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// stallingProxy relays TCP between a client and target, but once the
// client's first byte (its protocol version) has gone through it stops
// reading from the client for stall, so the client's socket buffers and
// then its connection's queue fill.
func stallingProxy(t *testing.T, target string, stall time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			track(c)
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			track(s)
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, s)
				c.Close()
			}()
			go func() {
				defer wg.Done()
				defer s.Close()
				if _, err := io.CopyN(s, c, 1); err != nil {
					return
				}
				time.Sleep(stall)
				_, _ = io.Copy(s, c)
			}()
		}
	}()
	return l.Addr().String()
}

// While the way out is stalled, sends are refused for backpressure and
// tried again when replies come, not counted as errors.
func TestBackpressureRetried(t *testing.T) {
	srv := startServer(t, false, nil)
	proxy := stallingProxy(t, srv.addr, 500*time.Millisecond)
	res, err := load(t, Config{
		Route:       "1#" + proxy + " => echoer",
		Count:       2000,
		Size:        64 << 10,
		Concurrency: 8,
		Window:      64,
		Timeout:     20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkBalance(t, res)
	t.Logf("%s", describe(res))
	if res.Refused == 0 {
		t.Skipf("the stall did not fill the queue (socket buffers took it all):%s", describe(res))
	}
	if res.SendErrors != 0 || res.Sent != 2000 {
		t.Fatalf("refused sends were not retried:%s", describe(res))
	}
}
