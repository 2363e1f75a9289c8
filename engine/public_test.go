package engine

import (
	"testing"

	"github.com/hopwire/hopwire/wire"
)

func TestIsPublic(t *testing.T) {
	n := newNode(t, Config{})
	mustStart(t, n, Echo{}, "public")
	mustStart(t, n, Echo{}, "listener_only")
	mustStart(t, n, Echo{}, "private")
	if err := n.Allow(AllFlows, wire.LocalAddr("public")); err != nil {
		t.Fatal(err)
	}
	if err := n.Allow(n.newFlow(), wire.LocalAddr("listener_only")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		t    wire.Type
		name string
		want bool
	}{
		{wire.Local, "public", true},
		{wire.Local, "listener_only", false},
		{wire.Local, "private", false},
		{wire.Local, "nobody", false},
		{wire.TCP, "public", false},
	} {
		if got := n.IsPublic(c.t, []byte(c.name)); got != c.want {
			t.Errorf("IsPublic(%d#%s) = %v, want %v", c.t, c.name, got, c.want)
		}
	}
	if err := n.Revoke(AllFlows, wire.LocalAddr("public")); err != nil {
		t.Fatal(err)
	}
	if n.IsPublic(wire.Local, []byte("public")) {
		t.Error("still public after Revoke")
	}
	v := []byte("public")
	if a := testing.AllocsPerRun(100, func() { n.IsPublic(wire.Local, v) }); a != 0 {
		t.Errorf("IsPublic allocates %v times", a)
	}
}
