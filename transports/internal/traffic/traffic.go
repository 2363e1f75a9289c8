// Package traffic counts what one connection or socket of a transport
// carried, and what the closed ones had: atomics of its own per
// connection (written by its reader and its writer, never shared between
// connections), summed when stats are read.
package traffic

import "sync/atomic"

// Counters are one connection's traffic, or the sum of closed ones'.
type Counters struct {
	MsgsIn, BytesIn, MsgsOut, BytesOut atomic.Uint64
	SavedIn, SavedOut                  atomic.Uint64 // what compression saved on the wire, each way
}

// Totals are Counters read, and summed.
type Totals struct {
	MsgsIn, BytesIn, MsgsOut, BytesOut uint64
	SavedIn, SavedOut                  uint64
}

// AddTo adds c to t.
func (c *Counters) AddTo(t *Totals) {
	t.MsgsIn += c.MsgsIn.Load()
	t.BytesIn += c.BytesIn.Load()
	t.MsgsOut += c.MsgsOut.Load()
	t.BytesOut += c.BytesOut.Load()
	t.SavedIn += c.SavedIn.Load()
	t.SavedOut += c.SavedOut.Load()
}

// Add adds o, a connection that closed, to c.
func (c *Counters) Add(o *Counters) {
	c.MsgsIn.Add(o.MsgsIn.Load())
	c.BytesIn.Add(o.BytesIn.Load())
	c.MsgsOut.Add(o.MsgsOut.Load())
	c.BytesOut.Add(o.BytesOut.Load())
	c.SavedIn.Add(o.SavedIn.Load())
	c.SavedOut.Add(o.SavedOut.Load())
}
