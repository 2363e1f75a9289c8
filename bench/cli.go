package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// cliHome runs the hopwire CLI in a state directory of the run's own, as
// a user would: its nodes are background processes, which the run
// deletes (hopwire node delete --all --yes) when it ends.
type cliHome struct {
	bin string
	dir string
}

// homeEnv names the CLI's state directory (cmd/internal/home.Env).
const homeEnv = "HOPWIRE_HOME"

// cliTimeout bounds one CLI command.
const cliTimeout = 30 * time.Second

// newHome makes a state directory, short for the sockets in it.
func (e *Env) newHome() (*cliHome, error) {
	dir, err := os.MkdirTemp("", "hb")
	if err != nil {
		return nil, err
	}
	h := &cliHome{bin: e.hopwire, dir: dir}
	e.onStop(h.deleteAll)
	return h, nil
}

// run runs one command and returns its standard output.
func (h *cliHome) run(args ...string) (string, error) {
	// Not the run's context: the deletion at the end must run after an
	// interrupt too.
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = append(os.Environ(), homeEnv+"="+h.dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("hopwire %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// line runs one command that prints one line, and returns it.
func (h *cliHome) line(args ...string) (string, error) {
	out, err := h.run(args...)
	return strings.TrimSpace(out), err
}

// deleteAll deletes every node and the state directory, and checks that
// no node process survived.
func (h *cliHome) deleteAll() error {
	pids, listErr := h.pids()
	_, delErr := h.run("node", "delete", "--all", "--yes")
	var survivors []string
	for _, pid := range pids {
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
			survivors = append(survivors, fmt.Sprint(pid))
		}
	}
	err := errors.Join(listErr, delErr)
	if len(survivors) > 0 {
		err = errors.Join(err, fmt.Errorf("bench: node processes %s survived hopwire node delete --all; killed", strings.Join(survivors, ", ")))
	}
	if err != nil {
		// Kept: what a person needs to find and stop what is left.
		return fmt.Errorf("%w (state directory kept: %s=%s hopwire node list)", err, homeEnv, h.dir)
	}
	return os.RemoveAll(h.dir)
}

// pids are the node processes the state directory knows of.
func (h *cliHome) pids() ([]int, error) {
	out, err := h.run("node", "list", "--output", "json")
	if err != nil {
		return nil, err
	}
	var nodes []struct {
		PID int `json:"pid"`
	}
	if err := json.Unmarshal([]byte(out), &nodes); err != nil {
		return nil, fmt.Errorf("hopwire node list: %w", err)
	}
	var pids []int
	for _, n := range nodes {
		if n.PID > 0 {
			pids = append(pids, n.PID)
		}
	}
	return pids, nil
}

// alive reports whether pid is a process that has not exited: kill(0)
// finds a zombie too, which a node that exited is until its parent (not
// this process: the CLI's daemons are reparented) reaps it.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist) // no /proc: trust kill(0)
	}
	_, rest, ok := strings.Cut(string(st), ") ")
	return !ok || !strings.HasPrefix(rest, "Z")
}
