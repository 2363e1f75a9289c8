package wire

import "testing"

func TestCache(t *testing.T) {
	p := NewPool(0)
	c := NewCache(p)
	on, ret := MustParseRoute("a => b"), MustParseRoute("app")
	m, err := c.Build(on, ret, []byte("small"))
	if err != nil {
		t.Fatal(err)
	}
	checkMsg(t, m, on, ret, "small")
	first := m
	c.Put(m)
	if p.Live() != 1 {
		t.Fatalf("live = %d: a cached message still counts as live", p.Live())
	}
	// The cached message is reused, and is like new.
	m, _ = c.Build(MustParseRoute("x"), nil, []byte("again"))
	if m != first {
		t.Error("the cache did not reuse its message")
	}
	checkMsg(t, m, MustParseRoute("x"), nil, "again")
	m.meta.Flow = 9
	c.Put(m)
	m, _ = c.Build(MustParseRoute("x"), nil, nil)
	if m.Meta().Flow != 0 {
		t.Error("Meta survived the cache")
	}
	c.Put(m)
	// Messages from elsewhere go back to their pool, not into the cache.
	other, _ := p.Build(on, ret, nil)
	c.Put(other)
	if p.Live() != 1 {
		t.Fatalf("live = %d: a message built off the cache was cached", p.Live())
	}
	// Large messages bypass the cache.
	big, _ := c.Build(on, ret, make([]byte, 4096))
	c.Put(big)
	if p.Live() != 1 {
		t.Fatalf("live = %d: a large message was cached", p.Live())
	}
	c.Flush()
	if p.Live() != 0 {
		t.Fatalf("live = %d after Flush", p.Live())
	}
	m, _ = c.Build(on, ret, nil)
	c.Put(m)
	defer func() {
		if recover() == nil {
			t.Fatal("a second Put did not panic")
		}
		c.Flush()
	}()
	c.Put(m)
}

func TestCacheZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	p := NewPool(0)
	c := NewCache(p)
	on, ret := MustParseRoute("h1 => h2 => echoer"), MustParseRoute("app")
	payload := make([]byte, 64)
	n := testing.AllocsPerRun(1000, func() {
		m, err := c.Build(on, ret, payload)
		if err != nil {
			panic(err)
		}
		m.Hop()
		c.Put(m)
	})
	if n != 0 {
		t.Fatalf("%v allocs per cached build and put", n)
	}
	c.Flush()
}
