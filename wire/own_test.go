package wire

import (
	"errors"
	"testing"
)

// panicsWith reports the error f panicked with, or nil if it returned.
func panicsWith(f func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err, _ = v.(error)
			if err == nil {
				err = errors.New("panic with a non-error")
			}
		}
	}()
	f()
	return nil
}

// With the checks on, every accessor of a released message panics, whether
// the message went back to its pool or to a cache.
func TestUseAfterReleasePanics(t *testing.T) {
	if !checkUse {
		t.Skip("the use-after-release check is off: build with -tags hopwire_checks, as make test does")
	}
	uses := []struct {
		name string
		use  func(m *Message)
	}{
		{"Payload", func(m *Message) { m.Payload() }},
		{"Bytes", func(m *Message) { m.Bytes() }},
		{"Raw", func(m *Message) { m.Raw() }},
		{"Next", func(m *Message) { m.Next() }},
		{"ReturnBytes", func(m *Message) { m.ReturnBytes() }},
		{"Hop", func(m *Message) { m.Hop() }},
		{"Step", func(m *Message) { m.Step() }},
		{"Turn", func(m *Message) { m.Turn(MustParseAddress("me")) }},
		{"Redirect", func(m *Message) { m.Redirect(MustParseRoute("x")) }},
		{"PrependReturn", func(m *Message) { m.PrependReturn(MustParseAddress("c")) }},
		{"SetPayload", func(m *Message) { m.SetPayload([]byte("x")) }},
		{"SetPayloadLen", func(m *Message) { m.SetPayloadLen(0) }},
		{"Resize", func(m *Message) { m.Resize(10) }},
		{"Parse", func(m *Message) { m.Parse() }},
		{"Frame", func(m *Message) { m.Frame() }},
		{"Datagram", func(m *Message) { m.Datagram() }},
	}
	p := NewPool(0)
	c := NewCache(p)
	on, ret := MustParseRoute("a => b"), MustParseRoute("app")
	for _, how := range []string{"Release", "Cache.Put"} {
		for _, u := range uses {
			m, err := c.Build(on, ret, []byte("payload"))
			if err != nil {
				t.Fatal(err)
			}
			if err := panicsWith(func() { u.use(m) }); err != nil {
				t.Fatalf("%s of a live message panicked: %v", u.name, err)
			}
			if how == "Release" {
				m.Release()
			} else {
				c.Put(m)
			}
			if err := panicsWith(func() { u.use(m) }); !errors.Is(err, ErrUseAfterRelease) {
				t.Errorf("%s after %s: panic %v, want ErrUseAfterRelease", u.name, how, err)
			}
		}
	}
	c.Flush()
	if p.Live() != 0 {
		t.Fatalf("live = %d", p.Live())
	}
}

// A lent message released by its borrower stays out of the pool and the
// cache, so no Build hands it out, until its lender reclaims it; then it
// goes back once. A borrower that ends the loan owns it outright.
func TestLend(t *testing.T) {
	p := NewPool(0)
	c := NewCache(p)
	defer c.Flush()
	on, ret := MustParseRoute("a"), MustParseRoute("app")
	build := func() *Message {
		t.Helper()
		m, err := c.Build(on, ret, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	// Released by the borrower: marked, kept out of the free lists.
	m := build()
	m.Lend()
	m.Release()
	if err := panicsWith(func() { m.Payload() }); checkUse && !errors.Is(err, ErrUseAfterRelease) {
		t.Fatalf("use of a lent message after its Release: %v", err)
	}
	if err := panicsWith(m.Release); !errors.Is(err, ErrMessageReleased) {
		t.Fatalf("second Release of a lent message: %v", err)
	}
	if err := panicsWith(func() { c.Put(m) }); !errors.Is(err, ErrMessageReleased) {
		t.Fatalf("Put of a lent message already released: %v", err)
	}
	for i := 0; i < 2*cacheDepth; i++ {
		if b := build(); b == m {
			t.Fatal("a Build handed out a lent message its borrower released")
		} else {
			defer c.Put(b)
		}
	}
	c.Reclaim(m)
	if b := build(); b != m {
		t.Error("a reclaimed message did not go back to its cache")
	} else {
		c.Put(b)
	}

	// Not released by the borrower: Reclaim releases it.
	m = build()
	m.Lend()
	c.Reclaim(m)
	if err := panicsWith(func() { m.Payload() }); checkUse && !errors.Is(err, ErrUseAfterRelease) {
		t.Fatalf("use after Reclaim: %v", err)
	}

	// Taken over by the borrower: its Release is the ordinary one, and
	// the lender has nothing to reclaim.
	m = build()
	m.Lend()
	m.EndLoan()
	c.Put(m)
	if b := build(); b != m {
		t.Error("a message whose loan ended was not released at once")
	} else {
		c.Put(b)
	}
	if err := panicsWith(func() { c.Reclaim(m) }); !errors.Is(err, errNotLent) {
		t.Fatalf("Reclaim of a message not lent: %v", err)
	}

	// A message built off the cache goes back to its pool.
	m, _ = p.Build(on, ret, nil)
	live := p.Live()
	m.Lend()
	m.Release()
	if p.Live() != live {
		t.Fatal("a lent message went back to its pool before it was reclaimed")
	}
	c.Reclaim(m)
	if p.Live() != live-1 {
		t.Fatal("a reclaimed message did not go back to its pool")
	}
}
