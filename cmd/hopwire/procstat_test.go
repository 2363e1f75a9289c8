//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// What a node process costs, read from /proc.

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, 100 on
// every Linux platform Go runs on.
const userHZ = 100

// procRSS returns the process's resident set size (VmRSS), in bytes.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	_, rest, ok := bytes.Cut(b, []byte("\nVmRSS:"))
	if !ok {
		return 0, errors.New("no VmRSS (a zombie?)")
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(line), []byte(" kB"))), 10, 64)
	return kb << 10, err
}

// procCPU returns the CPU time the process has used, user and system.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses,
	// so count from the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := bytes.Fields(b[i+1:]) // from field 3, state
	if len(f) < 13 {
		return 0, errors.New("bad /proc stat")
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// procWatch samples a process's RSS every rssEvery and kills it when the
// RSS passes a limit, so that a node that grows without bound cannot take
// the machine with it.
type procWatch struct {
	p     *proc
	limit int64
	stopc chan struct{}
	done  chan struct{}

	mu     sync.Mutex
	maxRSS int64
	cpu    time.Duration // last CPU time read
	killed bool
}

const rssEvery = 100 * time.Millisecond

func watchProc(p *proc, limit int64) *procWatch {
	w := &procWatch{p: p, limit: limit, stopc: make(chan struct{}), done: make(chan struct{})}
	w.sample()
	go w.run()
	return w
}

func (w *procWatch) run() {
	defer close(w.done)
	t := time.NewTicker(rssEvery)
	defer t.Stop()
	for {
		select {
		case <-w.stopc:
			return
		case <-w.p.exited:
			return
		case <-t.C:
			if !w.sample() {
				return
			}
		}
	}
}

// sample reads the process's RSS and CPU time, killing it if it is over
// the limit; false when it is gone.
func (w *procWatch) sample() bool {
	pid := w.p.cmd.Process.Pid
	rss, err := procRSS(pid)
	if err != nil {
		return false
	}
	cpu, err := procCPU(pid)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.maxRSS = max(w.maxRSS, rss)
	if err == nil {
		w.cpu = cpu
	}
	if rss > w.limit && !w.killed {
		w.killed = true
		w.p.cmd.Process.Kill()
		return false
	}
	return true
}

// CPU returns the process's CPU time now, or the last read if it is gone.
func (w *procWatch) CPU() time.Duration {
	w.sample()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cpu
}

// stop ends the sampling and returns the largest RSS seen and whether the
// process was killed for passing the limit.
func (w *procWatch) stop() (maxRSS int64, killed bool) {
	close(w.stopc)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxRSS, w.killed
}
