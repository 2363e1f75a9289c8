package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/hopwire/hopwire/bench"
)

func TestMain(m *testing.M) {
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
	for _, s := range []string{"ratio against a baseline in the same run", "ratio", "--rounds", "--benchtime", "--filter", "--json"} {
		if !strings.Contains(out, s) {
			t.Errorf("help lacks %q:\n%s", s, out)
		}
	}
	for _, sc := range bench.Scenarios() {
		if !strings.Contains(out, sc.Name) {
			t.Errorf("help does not list scenario %q", sc.Name)
		}
	}
}

func TestJSON(t *testing.T) {
	out, progress, err := execute(t, "--json", "--filter", "local hop 64KiB", "--rounds", "1", "--benchtime", "5ms")
	if err != nil {
		t.Fatal(err)
	}
	var rs []bench.Result
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if len(rs) != 1 || rs[0].Name != "local hop 64KiB" || rs[0].Rounds != 1 {
		t.Errorf("results %+v", rs)
	}
	if !strings.Contains(progress, "local hop 64KiB (vs ") {
		t.Errorf("progress on stderr lacks the scenario name: %q", progress)
	}
}

func TestErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--filter", "no such scenario"},
		{"--rounds", "-1"},
		{"--benchtime", "soon"},
		{"stray-argument"},
	} {
		if _, _, err := execute(t, args...); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
