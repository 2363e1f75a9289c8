package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Child processes: hopwire nodes in the foreground (hopwire node run
// --exit-on-eof) and the plain Go baselines (ProcMain). Each prints one
// ready line naming its TCP address and exits when its standard input
// ends, so a child cannot outlive the run even when the run is killed.

// procWait bounds how long a child may take to be ready and to exit.
const procWait = 10 * time.Second

// child is a process a scenario started.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr lockedBuffer
	exited chan struct{} // closed once it has exited and been waited for
	addr   string        // the tcp= address of its ready line
}

// start runs cmd, waits for its ready line and stops it when the run
// ends: its standard input is closed, and it is killed if it has not
// exited procWait later.
func (e *Env) start(cmd *exec.Cmd) (*child, error) {
	what := strings.Join(cmd.Args, " ")
	c := &child{cmd: cmd, exited: make(chan struct{})}
	cmd.Stderr = &c.stderr
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	e.onStop(c.stop)
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		io.Copy(io.Discard, out)
		cmd.Wait() // it closes the pipe: only once its reads are done
		close(c.exited)
	}()
	t := time.NewTimer(procWait)
	defer t.Stop()
	select {
	case l := <-line:
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, "tcp="); ok {
				c.addr = v
			}
		}
		if !strings.Contains(l, " ready") || c.addr == "" {
			return nil, fmt.Errorf("%s: no ready line with a tcp= address (got %q); stderr: %s", what, l, c.stderr.String())
		}
		return c, nil
	case <-t.C:
		return nil, fmt.Errorf("%s: not ready after %v; stderr: %s", what, procWait, c.stderr.String())
	case <-e.ctx.Done():
		return nil, e.ctx.Err()
	}
}

// stop ends the child: standard input closed, killed after procWait.
func (c *child) stop() error {
	c.stdin.Close()
	t := time.NewTimer(procWait)
	defer t.Stop()
	select {
	case <-c.exited:
		return nil
	case <-t.C:
	}
	c.cmd.Process.Kill()
	<-c.exited
	return fmt.Errorf("bench: %s did not exit when its input closed; killed", strings.Join(c.cmd.Args, " "))
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ProcMain runs this program as one of the plain Go baseline processes:
//
//	raw-echo           writes back what it reads, on every connection
//	raw-relay TARGET   joins every connection to a new one to TARGET, both ways
//
// Each listens on 127.0.0.1 (a free port), prints "KIND ready tcp=ADDR"
// and runs until its standard input ends. A program that embeds the suite
// calls it from the command Options.Proc starts.
func ProcMain(args []string) error {
	if len(args) == 0 {
		return errors.New("bench: ProcMain: no kind (raw-echo, raw-relay TARGET)")
	}
	switch {
	case args[0] == "raw-echo" && len(args) == 1:
		return serveRaw("raw-echo", func(c net.Conn) { io.Copy(c, c) })
	case args[0] == "raw-relay" && len(args) == 2:
		return serveRaw("raw-relay", func(c net.Conn) { relay(c, args[1]) })
	}
	return fmt.Errorf("bench: ProcMain: unknown process %q (raw-echo, raw-relay TARGET)", args)
}

// serveRaw serves each connection with handle until standard input ends.
func serveRaw(kind string, handle func(net.Conn)) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		l.Close()
	}()
	fmt.Printf("%s ready tcp=%s\n", kind, l.Addr())
	for {
		c, err := l.Accept()
		if err != nil {
			return nil // closed: the parent is done with us
		}
		go func() {
			defer c.Close()
			handle(c)
		}()
	}
}

// relay joins c to a new connection to target, both ways; io.Copy
// splices between the two sockets. A half-close goes on, as a good
// proxy's does.
func relay(c net.Conn, target string) {
	up, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer up.Close()
	go func() {
		io.Copy(up, c)
		up.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(c, up)
}
