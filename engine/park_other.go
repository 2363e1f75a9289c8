//go:build !linux

package engine

// parker puts an idle loop to sleep on a channel where there is no eventfd.
type parker struct {
	ch chan struct{}
}

func (p *parker) init() error { p.ch = make(chan struct{}, 1); return nil }
func (p *parker) park()       { <-p.ch }
func (p *parker) close()      {}

func (p *parker) unpark() {
	select {
	case p.ch <- struct{}{}:
	default: // a wake-up is already pending
	}
}
