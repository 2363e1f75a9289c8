package bench

import (
	"bytes"
	"strings"
	"testing"
)

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		old, new []float64
		higher   bool
		want     string
	}{
		{[]float64{1, 1.2}, []float64{1.3, 1.5}, true, Better},
		{[]float64{1, 1.2}, []float64{1.3, 1.5}, false, Worse},
		{[]float64{1, 1.2}, []float64{0.5, 0.9}, true, Worse},
		{[]float64{1, 1.2}, []float64{0.5, 0.9}, false, Better},
		{[]float64{1, 1.2}, []float64{1.2, 1.5}, true, Same}, // touching ranges overlap
		{[]float64{1, 2}, []float64{1.4, 1.6}, true, Same},
		{[]float64{1}, []float64{5, 6}, true, TooFew},
		{[]float64{1, 2}, nil, true, TooFew},
	} {
		if got := verdict(tc.old, tc.new, tc.higher); got != tc.want {
			t.Errorf("verdict(%v, %v, higher=%v) = %q, want %q", tc.old, tc.new, tc.higher, got, tc.want)
		}
	}
}

func TestCompare(t *testing.T) {
	old, new := sampleReport(t), sampleReport(t)
	// TCP hop: every new round better than every old one.
	new.Results[0].RatioSamples = []float64{1.2, 1.3}
	new.Results[0].HopwireSamples = []float64{15, 16}
	// The chain: worse, its rate too.
	new.Results[2].RatioSamples = []float64{2, 2.5}
	new.Results[2].HopwireSamples = []float64{5e6, 5.5e6}
	// Portal bulk only in new; a scenario only in old.
	old.Results = old.Results[:3]
	old.Results = append(old.Results, Result{Name: "gone", Unit: UnitNsPerHop})
	changes := Compare(old, new)
	got := map[string]Change{}
	for _, c := range changes {
		got[c.Name] = c
	}
	for name, want := range map[string][2]string{
		"TCP hop":               {Better, Better},
		"UDP hop":               {Same, Same},
		"3-hop chain pipelined": {Worse, Worse},
		"portal bulk":           {OnlyNew, OnlyNew},
		"gone":                  {OnlyOld, OnlyOld},
	} {
		if c := got[name]; c.Ratio != want[0] || c.Hopwire != want[1] {
			t.Errorf("%s: ratio %q hopwire %q, want %q %q", name, c.Ratio, c.Hopwire, want[0], want[1])
		}
	}
	if len(changes) != 5 || changes[4].Name != "gone" {
		t.Errorf("changes %+v", changes)
	}

	var b bytes.Buffer
	if err := WriteCompare(&b, old, new); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, s := range []string{"old: ", "new: ", "RATIO OLD", "0.95x [0.90-1.00]", "better", "worse", "within noise",
		"only in new", "only in old", "1 better, 1 worse", "do not overlap"} {
		if !strings.Contains(out, s) {
			t.Errorf("comparison lacks %q:\n%s", s, out)
		}
	}
}
