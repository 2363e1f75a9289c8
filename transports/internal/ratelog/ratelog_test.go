package ratelog

import (
	"strconv"
	"sync"
	"testing"
)

// One line per Every, and the next line says how many were held back.
func TestLimiter(t *testing.T) {
	var l Limiter
	const t0 = int64(1000)
	if n, ok := l.allowAt(t0); !ok || n != 0 {
		t.Fatalf("first line: %d, %v", n, ok)
	}
	for i := int64(1); i <= 5; i++ {
		if _, ok := l.allowAt(t0 + i*int64(Every)/10); ok {
			t.Fatalf("line %d within Every let through", i)
		}
	}
	if n, ok := l.allowAt(t0 + int64(Every)); !ok || n != 5 {
		t.Fatalf("line after Every: %d suppressed, %v; want 5, true", n, ok)
	}
	if _, ok := l.allowAt(t0 + int64(Every) + 1); ok {
		t.Fatal("line right after the second let through")
	}
	if n, ok := l.allowAt(t0 + 3*int64(Every)); !ok || n != 1 {
		t.Fatalf("third line: %d suppressed, %v; want 1, true", n, ok)
	}
}

// Goroutines racing for one cause let one line through, and every other
// event is counted for the next line.
func TestLimiterConcurrent(t *testing.T) {
	var l Limiter
	var wg sync.WaitGroup
	var mu sync.Mutex
	lines := 0
	const workers, each = 8, 1000
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, ok := l.allowAt(1); ok {
					mu.Lock()
					lines++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if lines != 1 {
		t.Fatalf("%d lines at one instant, want 1", lines)
	}
	if n, ok := l.allowAt(1 + int64(Every)); !ok || n != workers*each-1 {
		t.Fatalf("next line: %d suppressed, %v; want %d", n, ok, workers*each-1)
	}
}

// A Set keeps one limiter per message, and shares one past maxCauses.
func TestSet(t *testing.T) {
	var s Set
	a, b := s.Get("a"), s.Get("b")
	if a == b || s.Get("a") != a || s.Get("b") != b {
		t.Fatal("a message does not keep its own limiter")
	}
	for i := 2; i < maxCauses; i++ {
		s.Get(strconv.Itoa(i))
	}
	if x, y := s.Get("x"), s.Get("y"); x != y || x != &s.other {
		t.Fatal("messages past maxCauses do not share one limiter")
	}
	if s.Get("a") != a {
		t.Fatal("a limiter changed")
	}
}

// Holding a line back, the common case under a flood, allocates nothing.
func TestAllowDoesNotAllocate(t *testing.T) {
	var s Set
	msg := "tcp: something bad"
	s.Get(msg).Allow()
	if a := testing.AllocsPerRun(1000, func() {
		if _, ok := s.Get(msg).Allow(); ok {
			t.Fatal("let through within Every")
		}
	}); a != 0 {
		t.Fatalf("%v allocations per held-back line", a)
	}
}
