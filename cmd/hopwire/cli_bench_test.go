package main

import (
	"strconv"
	"testing"
	"time"

	"github.com/hopwire/hopwire/cmd/internal/home"
	"github.com/hopwire/hopwire/cmd/internal/manager"
)

// The CLI's own figures (issue goals on a 2-core machine: a node ready
// in ≤ 300 ms, a manager request ≤ 1 ms, message send end to end ≤ 50 ms).
// Each is the real binary, as a user runs it.

// BenchmarkNodeCreate is `hopwire node create` from exec to its exit,
// which is after the node said it is ready; the delete is not timed.
func BenchmarkNodeCreate(b *testing.B) {
	c := newCLI(b)
	b.ResetTimer()
	for i := range b.N {
		name := "b" + strconv.Itoa(i)
		c.ok("node", "create", name)
		b.StopTimer()
		c.ok("node", "delete", name)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/create")
}

// BenchmarkManagerRequest is one request to a node's manager over its
// Unix socket, from a client already connected: service.list.
func BenchmarkManagerRequest(b *testing.B) {
	c := newCLI(b)
	c.ok("node", "create", "n1")
	_, s, err := (home.Home{Dir: c.home}).Status("n1")
	if err != nil {
		b.Fatal(err)
	}
	cl, err := manager.Dial(s.Manager, 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	b.ResetTimer()
	for range b.N {
		if _, err := cl.ListServices(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/request")
}

// BenchmarkMessageSend is `hopwire message send hello --to
// /node/n1/service/echo` from exec to exit: process start, state lookup,
// a node of its own, a TCP dial and handshake, the round trip.
func BenchmarkMessageSend(b *testing.B) {
	c := newCLI(b)
	c.ok("node", "create", "n1")
	b.ResetTimer()
	for range b.N {
		if out := c.ok("message", "send", "hello", "--to", "/node/n1/service/echo"); out != "hello\n" {
			b.Fatalf("reply %q", out)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/send")
}
