package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hopwire/hopwire/cmd/internal/home"
)

func TestMultiaddr(t *testing.T) {
	srv := startServer(t, false, nil)
	port := srv.addr[strings.LastIndexByte(srv.addr, ':')+1:]
	for _, to := range []string{
		"/ip4/127.0.0.1/tcp/" + port + "/service/echoer",
		"/ip4/127.0.0.1/tcp/" + port + "/service/hop/service/echoer",
	} {
		res := mustRun(t, Config{Route: to, Count: 200, Window: 4})
		if res.Route != to || !strings.HasPrefix(res.ResolvedRoute, "1#"+srv.addr+" => ") {
			t.Errorf("route %q resolved %q", res.Route, res.ResolvedRoute)
		}
	}
}

// A node created with hopwire is found by name in $HOPWIRE_HOME, as the
// hopwire command finds it.
func TestMultiaddrNode(t *testing.T) {
	srv := startServer(t, false, nil)
	dir := t.TempDir()
	t.Setenv(home.Env, dir)
	h, err := home.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Claim("n1"); err != nil {
		t.Fatal(err)
	}
	// home takes a node for running while its pid is a live process
	// named hopwire: a stand-in that ends with the test.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command for a stand-in node process")
	}
	standIn := &exec.Cmd{Path: sleep, Args: []string{"hopwire-stand-in", "60"}}
	if err := standIn.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = standIn.Process.Kill()
		_ = standIn.Wait()
	})
	// Its command line names it once the exec has gone through, which a
	// busy machine can show late (a CI flake: "n1 is not running").
	for deadline := time.Now().Add(10 * time.Second); !home.Alive(standIn.Process.Pid); {
		if time.Now().After(deadline) {
			t.Fatal("the stand-in node process does not show as a live hopwire process")
		}
		time.Sleep(time.Millisecond)
	}
	if err := h.SaveState("n1", home.State{PID: standIn.Process.Pid, Started: time.Now(), TCP: srv.addr}); err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, Config{Route: "/node/n1/service/echoer", Count: 100})
	if res.ResolvedRoute != "1#"+srv.addr+" => 0#echoer" {
		t.Errorf("resolved %q", res.ResolvedRoute)
	}

	// A node that is not there, or not running, is named in one line.
	for to, want := range map[string]string{
		"/node/n2/service/echo": `at /node/n2: cannot resolve node "n2": no such node`,
	} {
		_, err := load(t, Config{Route: to, Count: 1})
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line with %q", to, err, want)
		}
	}
	_ = standIn.Process.Kill()
	_ = standIn.Wait()
	_, err = load(t, Config{Route: "/node/n1/service/echo", Count: 1})
	if err == nil || !strings.Contains(err.Error(), `at /node/n1: cannot resolve node "n1": it is not running`) {
		t.Errorf("stopped node: error %v", err)
	}
}

// A bad multiaddr is one line that names the bad segment.
func TestBadMultiaddr(t *testing.T) {
	for to, segment := range map[string]string{
		"/ip4/1.2.3/tcp/4000/service/echo":      "at /ip4/1.2.3:",
		"/ip4/127.0.0.1/tcp/99999/service/echo": "at /tcp/99999:",
		"/ip4/127.0.0.1/service/echo":           "at /ip4/127.0.0.1:",
		"/ip4/127.0.0.1/tcp/4000/sevice/echo":   "at /sevice/echo:",
		"/ip4/127.0.0.1/tcp/4000//service/echo": "at //service:",
		"/ip4/127.0.0.1/tcp/4000":               "the route ends at the node's address",
		"/service/echo":                         "is local to hopload's own node",
	} {
		_, err := load(t, Config{Route: to, Count: 1})
		if err == nil {
			t.Errorf("%s: no error", to)
			continue
		}
		msg := err.Error()
		t.Log(msg)
		if !strings.HasPrefix(msg, "--to \""+to+"\"") || !strings.Contains(msg, segment) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want one line about --to with %q", to, msg, segment)
		}
	}
}
