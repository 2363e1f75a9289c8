package bench

import (
	"context"
	"errors"
	"os/exec"
)

// Env is what a process scenario's Setup starts things with. Everything
// started through it is stopped when the run ends, in reverse order,
// however the run ends (a failure, an interrupt).
type Env struct {
	ctx     context.Context
	hopwire string
	proc    func(args ...string) *exec.Cmd
	stops   []func() error
	shared  map[string]any
}

func newEnv(ctx context.Context, opts Options) *Env {
	return &Env{ctx: ctx, hopwire: opts.Hopwire, proc: opts.Proc, shared: map[string]any{}}
}

// onStop registers f to run when the run ends.
func (e *Env) onStop(f func() error) { e.stops = append(e.stops, f) }

// stop runs the registered stops, last first, and joins their errors.
func (e *Env) stop() error {
	var errs []error
	for i := len(e.stops) - 1; i >= 0; i-- {
		errs = append(errs, e.stops[i]())
	}
	e.stops = nil
	return errors.Join(errs...)
}

// share returns what start returned the first time a scenario asked for
// key, so scenarios that measure the same topology set it up once.
func share[T any](e *Env, key string, start func() (T, error)) (T, error) {
	if v, ok := e.shared[key]; ok {
		return v.(T), nil
	}
	v, err := start()
	if err != nil {
		return v, err
	}
	e.shared[key] = v
	return v, nil
}
