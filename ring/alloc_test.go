package ring_test

import (
	"testing"

	"github.com/hopwire/hopwire/ring"
)

type msg struct{ id int }

func TestZeroAllocs(t *testing.T) {
	m := &msg{id: 1}
	batch := []*msg{m, m, m, m}
	dst := make([]*msg, 4)

	mp := ring.NewMPSC[*msg](8)
	sp := ring.NewSPSC[*msg](8)
	cases := []struct {
		name string
		f    func()
	}{
		{"MPSC Push+Pop", func() { mp.Push(m); mp.Pop() }},
		{"MPSC Push+PopBatch", func() {
			for range 4 {
				mp.Push(m)
			}
			mp.PopBatch(dst)
		}},
		{"MPSC Pop empty, Push full", func() {
			mp.Pop()
			for range 9 {
				mp.Push(m)
			}
			mp.PopBatch(dst)
			mp.PopBatch(dst)
		}},
		{"MPSC Len+Cap+Ready", func() { _ = mp.Len() + mp.Cap(); _ = mp.Ready() }},
		{"SPSC Push+Pop", func() { sp.Push(m); sp.Pop() }},
		{"SPSC PushBatch+PopBatch", func() { sp.PushBatch(batch); sp.PopBatch(dst) }},
		{"SPSC Len+Cap", func() { _ = sp.Len() + sp.Cap() }},
	}
	for _, c := range cases {
		if n := testing.AllocsPerRun(1000, c.f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", c.name, n)
		}
	}
}
