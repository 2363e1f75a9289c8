package engine

import (
	"hash/maphash"
	"sync/atomic"
)

// regShards is how many maps the registry splits its names over.
const regShards = 64

// registry maps local names to workers. Loops read it on every hop
// without a lock; writers hold Node.regMu. It is copy on write by shard:
// a write copies the one small map its name hashes to, not a map of
// every worker, so starting or stopping a worker among N costs
// O(N/regShards) and leaves as little garbage. A node with thousands of
// portal sessions (a worker each) starts and stops workers all the time:
// with one map, opening N sessions copied O(N²) entries
// (BenchmarkStartStopAmong).
type registry struct {
	seed   maphash.Seed
	shards [regShards]atomic.Pointer[map[string]*worker] // nil: empty
	// gone is bumped whenever a name stops naming the worker it named:
	// what a hopCache remembers is good while gone is unchanged. A name
	// newly taken makes no remembered resolution wrong, so it leaves gone
	// alone.
	gone atomic.Uint64
}

func newRegistry() *registry { return &registry{seed: maphash.MakeSeed()} }

func (r *registry) shard(name string) *atomic.Pointer[map[string]*worker] {
	return &r.shards[maphash.String(r.seed, name)%regShards]
}

// get finds the worker at name. It does not allocate.
func (r *registry) get(name []byte) *worker {
	m := r.shards[maphash.Bytes(r.seed, name)%regShards].Load()
	if m == nil {
		return nil
	}
	return (*m)[string(name)]
}

// getString is get for a string.
func (r *registry) getString(name string) *worker {
	m := r.shard(name).Load()
	if m == nil {
		return nil
	}
	return (*m)[name]
}

// set makes name name w, or removes it when w is nil. Writers only
// (Node.regMu).
func (r *registry) set(name string, w *worker) {
	p := r.shard(name)
	var old map[string]*worker
	if o := p.Load(); o != nil {
		old = *o
	}
	m := make(map[string]*worker, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	if w != nil {
		m[name] = w
		p.Store(&m)
		return
	}
	delete(m, name)
	p.Store(&m)
	// After the store: a reader that sees the new gone sees the new map,
	// so it cannot remember the removed worker under it.
	r.gone.Add(1)
}
