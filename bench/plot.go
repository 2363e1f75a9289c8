package bench

import (
	"fmt"
	"image/color"
	"io"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The picture of a report: a bar chart of every scenario's ratio to its
// baseline (a whisker for the range of the rounds, a line at 1), and
// under it the latency CDF of each round-trip scenario, hopwire beside
// its baseline.

// PlotFormat returns the format a plot written to path takes from its
// extension, "svg" or "png", or an error for another.
func PlotFormat(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".svg", ".png":
		return ext[1:], nil
	default:
		return "", fmt.Errorf("bench: a plot is .svg or .png, not %q", ext)
	}
}

var (
	hopwireColor  = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	baselineColor = color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}
)

// WritePlot draws rep in format ("svg" or "png") to w.
func WritePlot(w io.Writer, format string, rep *Report) error {
	if len(rep.Results) == 0 {
		return fmt.Errorf("bench: nothing to plot")
	}
	bars, err := ratioChart(rep)
	if err != nil {
		return err
	}
	var cdfs []*plot.Plot
	for _, r := range rep.Results {
		p, err := cdfPlot(r)
		if err != nil {
			return err
		}
		if p != nil {
			cdfs = append(cdfs, p)
		}
	}
	const cols = 2
	rows := (len(cdfs) + cols - 1) / cols
	width := 10 * vg.Inch
	barsHeight := vg.Length(len(rep.Results))*0.3*vg.Inch + 1.2*vg.Inch
	cdfHeight := vg.Length(rows) * 3 * vg.Inch
	height := barsHeight + cdfHeight

	var canvas vg.CanvasWriterTo
	switch format {
	case "svg":
		canvas = vgsvg.New(width, height)
	case "png":
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(96))}
	default:
		return fmt.Errorf("bench: unknown plot format %q", format)
	}
	dc := draw.New(canvas)
	bars.Draw(draw.Crop(dc, 0, 0, cdfHeight, 0))
	if rows > 0 {
		grid := make([][]*plot.Plot, rows)
		for i := range grid {
			grid[i] = make([]*plot.Plot, cols)
		}
		for i, p := range cdfs {
			grid[i/cols][i%cols] = p
		}
		tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Inch / 4, PadY: vg.Inch / 4, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8}
		below := draw.Crop(dc, 0, 0, 0, -barsHeight)
		canvases := plot.Align(grid, tiles, below)
		for i, p := range cdfs {
			p.Draw(canvases[i/cols][i%cols])
		}
	}
	_, err = canvas.WriteTo(w)
	return err
}

// ratioChart is the bar chart of the ratios, one bar per scenario, the
// first at the top.
func ratioChart(rep *Report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("hopwire / baseline, same run (above 1: hopwire ahead)  %s, commit %s, %d rounds",
		rep.Machine.Date.Format("2006-01-02"), rep.Machine.Commit, rep.Rounds)
	p.X.Label.Text = "ratio to baseline (bar: median of rounds; whisker: lowest to highest round)"
	n := len(rep.Results)
	vals := make(plotter.Values, n)
	names := make([]string, n)
	for i, r := range rep.Results {
		at := n - 1 - i // plot's Y grows upwards
		vals[at] = r.Ratio
		names[at] = r.Name
	}
	bars, err := plotter.NewBarChart(vals, 0.18*vg.Inch)
	if err != nil {
		return nil, err
	}
	bars.Horizontal = true
	bars.Color = hopwireColor
	bars.LineStyle.Width = 0
	p.Add(bars)
	for i, r := range rep.Results {
		at := float64(n - 1 - i)
		whisker, err := plotter.NewLine(plotter.XYs{{X: r.RatioMin, Y: at}, {X: r.RatioMax, Y: at}})
		if err != nil {
			return nil, err
		}
		whisker.LineStyle.Width = vg.Points(1.5)
		p.Add(whisker)
	}
	one, err := plotter.NewLine(plotter.XYs{{X: 1, Y: -0.5}, {X: 1, Y: float64(n) - 0.5}})
	if err != nil {
		return nil, err
	}
	one.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	one.LineStyle.Color = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	p.Add(one)
	p.NominalY(names...)
	p.X.Min = 0
	for _, r := range rep.Results {
		p.X.Max = max(p.X.Max, r.RatioMax*1.05, 1.1)
	}
	return p, nil
}

// cdfTicks is how many points a CDF line takes per halving of the
// distance to its 100th percentile: enough for a smooth curve and its tail.
const cdfTicks = 16

// cdfPlot is r's latency CDF, hopwire beside its baseline, or nil when r
// recorded no round trips.
func cdfPlot(r Result) (*plot.Plot, error) {
	hh, bh := r.HopwireLatency.Histogram(), r.BaselineLatency.Histogram()
	if hh == nil || bh == nil {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = r.Name + fmt.Sprintf(" (%s payload)", formatBytes(r.PayloadBytes))
	p.X.Label.Text = "round trip, µs (log)"
	p.Y.Label.Text = "fraction of round trips ≤ x"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1
	// Bottom right, where a CDF on a log axis has the least to show.
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	p.Legend.YOffs = vg.Points(4)
	for i, side := range []struct {
		name  string
		lat   *Latency
		color color.Color
	}{{"hopwire", r.HopwireLatency, hopwireColor}, {r.Baseline, r.BaselineLatency, baselineColor}} {
		h := hh
		if i == 1 {
			h = bh
		}
		var xys plotter.XYs
		for _, br := range h.CumulativeDistributionWithTicks(cdfTicks) {
			if br.Count == 0 && len(xys) > 0 {
				continue
			}
			xys = append(xys, plotter.XY{X: max(float64(br.ValueAt)/1e3, 0.001), Y: br.Quantile / 100})
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		line.LineStyle.Color = side.color
		line.LineStyle.Width = vg.Points(1.5)
		if i == 1 {
			line.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s: p50 %.1f, p99 %.1f, max %.0f", side.name, side.lat.P50, side.lat.P99, side.lat.Max), line)
	}
	return p, nil
}
