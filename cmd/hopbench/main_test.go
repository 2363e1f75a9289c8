package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/hopwire/hopwire/bench"
)

func TestMain(m *testing.M) {
	// The test binary doubles as hopbench's baseline processes: the
	// suite starts its own executable with the proc command.
	if len(os.Args) > 1 && os.Args[1] == procCommand {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m,
		// gnet's package-level goroutine pool (ants), started by its init.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

func execute(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newCommand()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestHelp(t *testing.T) {
	out, _, err := execute(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"ratio against a baseline in the same run", "--quick", "--full", "--only", "--json", "--plot",
		"--hopwire", "--rounds", "--benchtime", "Examples:", "hopbench compare old.json new.json", "Bimodal:"} {
		if !strings.Contains(out, s) {
			t.Errorf("help lacks %q:\n%s", s, out)
		}
	}
	for _, sc := range bench.Scenarios() {
		if !strings.Contains(out, sc.Name) {
			t.Errorf("help does not list scenario %q", sc.Name)
		}
	}
	if strings.Contains(out, procCommand+" KIND") {
		t.Error("help shows the hidden proc command")
	}
}

// A tiny in-process subset: the table on stdout, the JSON report and the
// picture in files, progress on stderr; no hopwire binary is looked for.
func TestRunOnly(t *testing.T) {
	dir := t.TempDir()
	report, picture := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.svg")
	out, progress, err := execute(t, "--only", "^local hop 64KiB$", "--rounds", "2", "--benchtime", "5ms", "--json", report, "--plot", picture)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "local hop 64KiB") || !strings.Contains(out, "RATIO") {
		t.Errorf("table:\n%s", out)
	}
	if !strings.Contains(progress, "round 2/2  local hop 64KiB: ") || strings.Contains(progress, "hopwire binary") {
		t.Errorf("progress on stderr: %q", progress)
	}
	rep := readReportT(t, report)
	if len(rep.Results) != 1 || rep.Results[0].Name != "local hop 64KiB" || rep.Results[0].Rounds != 2 || rep.Machine.Commit == "" {
		t.Errorf("report %+v", rep)
	}
	if svg, err := os.ReadFile(picture); err != nil || !bytes.Contains(svg, []byte("<svg")) {
		t.Errorf("picture: %v, %.40q", err, svg)
	}

	// --json - puts the report on stdout instead of the table.
	out, _, err = execute(t, "--only", "^local hop$", "--rounds", "1", "--benchtime", "5ms", "--json", "-")
	if err != nil {
		t.Fatal(err)
	}
	var r bench.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Results) != 1 {
		t.Errorf("stdout is not one report: %v\n%s", err, out)
	}
}

// One process scenario through the command: the hopwire binary it is
// given, the baselines as this binary's proc command.
func TestRunProcesses(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "hopwire")
	build := exec.Command("go", "build", "-o", bin, "github.com/hopwire/hopwire/cmd/hopwire")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, progress, err := execute(t, "--only", "^seed", "--rounds", "1", "--benchtime", "5ms", "--hopwire", bin)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress)
	}
	if !strings.Contains(progress, "hopwire binary: "+bin+" (--hopwire)") || !strings.Contains(out, "seed route 3 processes") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, progress)
	}
}

func TestCompareCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, ratios ...float64) string {
		rep := &bench.Report{Rounds: len(ratios), Results: []bench.Result{{
			Name: "TCP hop", Unit: bench.UnitP50RTT, Ratio: ratios[0], RatioMin: ratios[0], RatioMax: ratios[len(ratios)-1],
			RatioSamples: ratios, HopwireSamples: []float64{20, 21}, Rounds: len(ratios),
		}}}
		var b bytes.Buffer
		if err := bench.WriteJSON(&b, rep); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	old, new := write("old.json", 0.9, 1.0), write("new.json", 1.2, 1.3)
	out, _, err := execute(t, "compare", old, new)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "TCP hop") || !strings.Contains(out, "better") || !strings.Contains(out, "1 better, 0 worse") {
		t.Errorf("compare:\n%s", out)
	}
	if _, _, err := execute(t, "compare", old, filepath.Join(dir, "missing.json")); err == nil {
		t.Error("compare with a missing file: no error")
	}
	picture := filepath.Join(dir, "p.png")
	if _, _, err := execute(t, "plot", new, picture); err != nil {
		t.Fatal(err)
	}
	if png, err := os.ReadFile(picture); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("plot: %v", err)
	}
}

func TestErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--only", "no such scenario"},
		{"--only", "("},
		{"--rounds", "-1"},
		{"--benchtime", "soon"},
		{"--quick", "--full"},
		{"--plot", "x.jpg", "--only", "^local hop$"},
		{"--hopwire", "/nonexistent/hopwire", "--only", "^seed"},
		{"stray-argument"},
		{"compare", "one.json"},
	} {
		if _, _, err := execute(t, args...); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func readReportT(t *testing.T, path string) *bench.Report {
	t.Helper()
	rep, err := readReport(path)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
