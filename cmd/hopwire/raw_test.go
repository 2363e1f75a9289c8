package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

// The raw baselines for the multi-process benchmark: plain Go TCP, the
// same four legs as the seed's route (client -> relay -> echo and back),
// each end its own process. They run in the test binary, never in
// hopwire itself.

// exitOnEOF ends the process when its parent closes stdin.
func exitOnEOF() {
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
}

func rawListen(kind string) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s ready tcp=%s\n", kind, l.Addr())
	return l
}

// rawEcho writes back whatever it reads, on every connection.
func rawEcho() {
	exitOnEOF()
	l := rawListen("raw-echo")
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}

// rawRelay joins every connection it accepts to a new one to target,
// both ways (io.Copy, which splices), passing a half-close on.
func rawRelay(target string) {
	exitOnEOF()
	l := rawListen("raw-relay")
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer up.Close()
			go func() {
				io.Copy(up, c)
				up.(*net.TCPConn).CloseWrite() // half-close goes on, as a good proxy's does
			}()
			io.Copy(c, up)
		}()
	}
}
