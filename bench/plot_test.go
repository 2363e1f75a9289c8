package bench

import (
	"bytes"
	"testing"
)

func TestPlotFormat(t *testing.T) {
	for path, want := range map[string]string{"a.svg": "svg", "b/c.PNG": "png", "x.jpg": "", "noext": ""} {
		got, err := PlotFormat(path)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("PlotFormat(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
}

// The picture draws in both formats: an SVG with every scenario's name
// and a CDF per round-trip scenario, a PNG that is one.
func TestWritePlot(t *testing.T) {
	rep := sampleReport(t)
	var svg bytes.Buffer
	if err := WritePlot(&svg, "svg", rep); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<svg", "TCP hop", "portal bulk", "3-hop chain pipelined", "round trip", "raw TCP ping-pong: p50 19.0"} {
		if !bytes.Contains(svg.Bytes(), []byte(s)) {
			t.Errorf("SVG lacks %q", s)
		}
	}
	var png bytes.Buffer
	if err := WritePlot(&png, "png", rep); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png.Bytes(), []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("PNG output starts %q", png.Bytes()[:min(8, png.Len())])
	}
	if err := WritePlot(&png, "svg", &Report{}); err == nil {
		t.Error("an empty report plotted")
	}
}
