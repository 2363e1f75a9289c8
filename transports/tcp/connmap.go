package tcp

import (
	"maps"
	"sync/atomic"
)

// connMap is a map of connections that senders read without a lock, once
// per message; writers (connections come and go, far less often) hold
// the transport's mu and store a changed copy.
type connMap struct {
	p atomic.Pointer[map[string]*conn]
}

func newConnMap() *connMap {
	m := &connMap{}
	m.p.Store(&map[string]*conn{})
	return m
}

// load returns the current map; it must not be written.
func (m *connMap) load() map[string]*conn { return *m.p.Load() }

// put maps k to c. Writers only.
func (m *connMap) put(k string, c *conn) {
	next := maps.Clone(m.load())
	next[k] = c
	m.p.Store(&next)
}

// drop removes k if it maps to c and reports whether it did. Writers only.
func (m *connMap) drop(k string, c *conn) bool {
	if m.load()[k] != c {
		return false
	}
	next := maps.Clone(m.load())
	delete(next, k)
	m.p.Store(&next)
	return true
}
