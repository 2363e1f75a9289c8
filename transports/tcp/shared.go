package tcp

import (
	"context"
	"errors"
	"sync"

	"github.com/panjf2000/gnet/v2"
)

// The gnet engines are shared by every Transport in the process that has
// the same EventLoops and ReadBufferCap: one gnet.Client per such pair,
// started by the first transport that needs it and stopped when the last
// one closes. Every connection, dialed or accepted, is enrolled in it.
//
// Why: a gnet loop is a goroutine blocked in epoll_wait on an epoll set
// of its own, so a message to a socket of another loop costs a kernel
// wake-up of that loop's thread (a context switch, often across CPUs),
// and on a small VM that costs more than the rest of the hop. Go's own
// poller avoids it by being one per process: a goroutine that finds the
// peer's socket readable right after its write runs the peer on the same
// thread. Sharing the loops between transports (nodes) of a process does
// the same for gnet: when both ends of a connection, or both hops of a
// route, are on one loop, the loop finds the next socket readable in its
// next non-blocking epoll_wait and carries on without sleeping.
// BenchmarkTCPHopRoundTrip (2 vCPUs, EventLoops 1) measured the one-hop
// round trip's p50 at 1.7-2.0x raw TCP with an engine per transport and
// per listener, 1.1-1.45x shared; p99 from ~5x to ~1.6x.

type engineKey struct{ loops, readBuf int }

type sharedEngine struct {
	key  engineKey
	cli  *gnet.Client
	refs int // under engines.mu
}

var engines struct {
	mu sync.Mutex
	m  map[engineKey]*sharedEngine
}

// acquireEngine returns the process's gnet engine for t's configuration,
// starting it if there is none. Each call is paired with a release.
func acquireEngine(t *Transport) (*sharedEngine, error) {
	key := engineKey{t.cfg.EventLoops, t.cfg.ReadBufferCap}
	engines.mu.Lock()
	defer engines.mu.Unlock()
	if e := engines.m[key]; e != nil {
		e.refs++
		return e, nil
	}
	cli, err := gnet.NewClient(&events{}, t.gnetOptions()...)
	if err != nil {
		return nil, err
	}
	if err := cli.Start(); err != nil {
		return nil, err
	}
	e := &sharedEngine{key: key, cli: cli, refs: 1}
	if engines.m == nil {
		engines.m = make(map[engineKey]*sharedEngine)
	}
	engines.m[key] = e
	return e, nil
}

// release drops a reference; the last one stops the engine. Every
// connection of the releasing transport has been closed by then.
func (e *sharedEngine) release() error {
	engines.mu.Lock()
	defer engines.mu.Unlock()
	if e.refs--; e.refs > 0 {
		return nil
	}
	delete(engines.m, e.key)
	// Client.Stop returns when every loop has exited and every connection
	// left has had OnClose.
	if err := e.cli.Stop(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
