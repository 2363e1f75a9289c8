package bench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// buildHopwire builds the hopwire binary into a directory of t's.
func buildHopwire(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hopwire")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/hopwire/hopwire/cmd/hopwire").CombinedOutput()
	if err != nil {
		t.Fatalf("go build hopwire: %v\n%s", err, out)
	}
	return bin
}

// testProc starts this test binary as a baseline process (TestMain).
func testProc(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), procEnv+"=1")
	return cmd
}

// TestProcessScenarios runs every process scenario for one short round
// with a hopwire binary built from this tree: nodes and baselines start,
// both sides measure, and when Run returns every node process is gone
// (Run's stop checks that and fails otherwise) and the state directory
// with them. It asserts no timing.
func TestProcessScenarios(t *testing.T) {
	bin := buildHopwire(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // the run's state directories go here, to be checked
	var progress bytes.Buffer
	rep, err := Run(context.Background(), Options{
		Rounds: 1, BenchTime: 10 * time.Millisecond, Only: regexp.MustCompile("^(seed|portal)"),
		Hopwire: bin, Proc: testProc, Progress: &progress,
	})
	t.Log("\n" + progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 5 || len(rep.Skipped) != 0 {
		t.Fatalf("results %q, skipped %+v", names2(rep.Results), rep.Skipped)
	}
	for _, r := range rep.Results {
		checkResult(t, r)
		if !r.Processes || r.HopwireAllocs != 0 {
			t.Errorf("%s: processes %v, allocs %d", r.Name, r.Processes, r.HopwireAllocs)
		}
	}
	if rep.Machine.Hopwire != bin || rep.Machine.HopwireCommit == "" {
		t.Errorf("machine %+v", rep.Machine)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "hb*"))
	if len(left) != 0 {
		t.Errorf("state directories left behind: %v", left)
	}
}

// A setup that fails fails the run before anything is measured, and what
// it started is stopped.
func TestSetupFailure(t *testing.T) {
	rep, err := Run(context.Background(), Options{
		Rounds: 1, BenchTime: time.Millisecond, Only: regexp.MustCompile("^seed"),
		Hopwire: "/nonexistent/hopwire", Proc: testProc,
	})
	if err == nil || !strings.Contains(err.Error(), "setting up seed route 3 processes") || len(rep.Results) != 0 {
		t.Fatalf("err %v, report %+v", err, rep)
	}
}

func TestProcMainRefuses(t *testing.T) {
	for _, args := range [][]string{nil, {"raw-echo", "extra"}, {"raw-relay"}, {"nonsense"}} {
		if err := ProcMain(args); err == nil {
			t.Errorf("ProcMain(%q): no error", args)
		}
	}
}
