package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/hopwire/hopwire/cmd/internal/home"
)

// A background node is this binary run as `hopwire node serve NAME`: its
// own session (no controlling terminal, so a closed terminal does not
// stop it), standard input from /dev/null, standard output and error
// appended to its log file. It tells the CLI that started it how it went
// on a pipe it inherits as descriptor readyFD: one line, "ok " and its
// state as JSON, or "error " and why, then the pipe closes.
const (
	readyEnv = "HOPWIRE_READY_FD"
	readyFD  = 3

	readyTimeout = 15 * time.Second // node start to ready, generous for a loaded machine
	stopGrace    = 5 * time.Second  // SIGTERM to SIGKILL
	maxLogBytes  = 8 << 20          // a node's log starts over past this
)

// spawn starts the node name in the background and waits until it is
// ready or has failed; on failure it says why (from the node, else from
// the end of its log) and leaves no process behind.
func spawn(h home.Home, name string) (home.State, error) {
	exe, err := os.Executable()
	if err != nil {
		return home.State{}, err
	}
	logf, err := os.OpenFile(h.Log(name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return home.State{}, err
	}
	defer logf.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return home.State{}, err
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return home.State{}, err
	}
	defer r.Close()

	cmd := exec.Command(exe, "node", "serve", name)
	cmd.Env = append(os.Environ(), home.Env+"="+h.Dir, fmt.Sprintf("%s=%d", readyEnv, readyFD))
	cmd.Dir = "/"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, logf, logf
	cmd.ExtraFiles = []*os.File{w} // descriptor 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close() // the child holds the write end now: EOF if it dies
	if err != nil {
		return home.State{}, err
	}

	_ = r.SetReadDeadline(time.Now().Add(readyTimeout))
	line, rerr := bufio.NewReader(io.LimitReader(r, 64<<10)).ReadString('\n')
	if rest, ok := strings.CutPrefix(line, "ok "); ok {
		var st home.State
		if err := json.Unmarshal([]byte(rest), &st); err == nil {
			_ = cmd.Process.Release() // it outlives us
			return st, nil
		}
	}
	// It failed, or hangs: make sure it is gone, then say why.
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if why, ok := strings.CutPrefix(strings.TrimSpace(line), "error "); ok {
		return home.State{}, errors.New(why)
	}
	if errors.Is(rerr, os.ErrDeadlineExceeded) {
		return home.State{}, fmt.Errorf("node %s was not ready within %v (its log: %s)", name, readyTimeout, h.Log(name))
	}
	return home.State{}, fmt.Errorf("node %s exited while starting: %s", name, lastLogLine(h.Log(name)))
}

// lastLogLine is the last non-empty line of a log, for a node that died
// before it could say why.
func lastLogLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "no log"
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if last := lines[len(lines)-1]; len(last) > 0 {
		return string(last)
	}
	return "nothing in its log"
}

// stop ends the node's process: SIGTERM, then SIGKILL after stopGrace.
// It reports whether a process was running; the node's state is removed
// either way (a stale one too).
func stop(h home.Home, name string) (bool, error) {
	st, s, err := h.Status(name)
	if err != nil {
		return false, err
	}
	if st == home.Running {
		if err := syscall.Kill(s.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return false, fmt.Errorf("stop node %s (pid %d): %w", name, s.PID, err)
		}
		if !waitGone(s.PID, stopGrace) {
			_ = syscall.Kill(s.PID, syscall.SIGKILL)
			if !waitGone(s.PID, stopGrace) {
				return true, fmt.Errorf("node %s (pid %d) did not stop, even after SIGKILL", name, s.PID)
			}
		}
	}
	_ = os.Remove(h.Socket(name))
	return st == home.Running, h.RemoveState(name)
}

// waitGone polls until pid is no longer a live hopwire process.
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for home.Alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// cappedLog is a node's log file as its logger writes to it: past
// maxLogBytes it starts over, so a long-running node's log stays bounded.
// Standard error is the same file, so a crash still lands in it.
type cappedLog struct {
	f    *os.File
	size int64
}

func newCappedLog(f *os.File) *cappedLog {
	c := &cappedLog{f: f}
	if fi, err := f.Stat(); err == nil {
		c.size = fi.Size()
	}
	return c
}

func (c *cappedLog) Write(p []byte) (int, error) {
	if c.size+int64(len(p)) > maxLogBytes {
		if err := c.f.Truncate(0); err == nil {
			c.size = 0
			n, _ := fmt.Fprintf(c.f, "--- log started over at %d bytes ---\n", maxLogBytes)
			c.size += int64(n)
		}
	}
	n, err := c.f.Write(p)
	c.size += int64(n)
	return n, err
}
