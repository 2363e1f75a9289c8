package wire

// Cache is a small free list of Messages in front of a Pool, for one
// goroutine at a time (an event loop). A message built and released on the
// same loop — the common case for local traffic — then costs no sync.Pool
// round trip and no atomic counter update.
//
// A message goes back to the cache it was built through: Put passes any
// other message on to its pool. So messages made off the loop (by an app,
// a transport's reader) and dropped on it do not pile up here while their
// makers allocate anew, and a cache holds only what its own loop builds.
//
// Messages in a Cache still count as live in Pool.Live: Flush gives them
// back, as their owner must before it stops.
type Cache struct {
	pool *Pool
	free [cacheClasses][]*Message
}

// cacheClasses is how many of the smallest size classes a Cache keeps
// (512 B and 1 KiB buffers: headers with payloads up to ~700 bytes), and
// cacheDepth how many messages of each.
const (
	cacheClasses = 2
	cacheDepth   = 256
)

// NewCache returns an empty Cache in front of p.
func NewCache(p *Pool) *Cache {
	c := &Cache{pool: p}
	for i := range c.free {
		c.free[i] = make([]*Message, 0, cacheDepth)
	}
	return c
}

// Build is Pool.Build taking the message from the cache when it can.
func (c *Cache) Build(onward, ret Route, payload []byte) (*Message, error) {
	return c.pool.build(c, onward, ret, payload, len(payload))
}

// BuildRoom is Pool.BuildRoom taking the message from the cache when it
// can.
func (c *Cache) BuildRoom(onward, ret Route, n int) (*Message, error) {
	if n < 0 {
		panic("wire: negative payload room")
	}
	return c.pool.build(c, onward, ret, nil, n)
}

func (c *Cache) alloc(n int) (*Message, error) {
	if n > c.pool.maxFrame {
		return nil, ErrFrameTooLarge
	}
	class := classFor(Headroom + n)
	if class >= cacheClasses || len(c.free[class]) == 0 {
		m, err := c.pool.alloc(n)
		if err == nil {
			m.home = c
		}
		return m, err
	}
	f := c.free[class]
	m := f[len(f)-1]
	f[len(f)-1] = nil
	c.free[class] = f[:len(f)-1]
	m.released = false
	m.start, m.cur, m.body, m.end = Headroom, Headroom, Headroom, Headroom+n
	return m, nil
}

// Put releases m into the cache, or to its pool when the cache has no
// room for it. It is Release otherwise: it panics on a message already
// released, and only marks a lent one.
func (c *Cache) Put(m *Message) {
	if m.released || m.lent || m.home != c || int(m.class) >= cacheClasses || len(c.free[m.class]) >= cacheDepth {
		m.Release()
		return
	}
	m.released, m.meta = true, Meta{}
	c.free[m.class] = append(c.free[m.class], m)
}

// Reclaim takes back m, lent (Message.Lend) by this cache's goroutine,
// when the borrower returned without taking it over (EndLoan), and
// releases it as Put does, whether or not the borrower released it
// already: either way it goes back once. It panics if m is not lent.
func (c *Cache) Reclaim(m *Message) {
	if !m.lent {
		panic(errNotLent)
	}
	m.lent, m.released = false, false
	c.Put(m)
}

// Flush gives every cached message back to the pool.
func (c *Cache) Flush() {
	for class, f := range c.free {
		for i, m := range f {
			m.released = false
			m.Release()
			f[i] = nil
		}
		c.free[class] = f[:0]
	}
}
