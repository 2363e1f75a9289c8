package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The process scenarios run the hopwire binary as nodes. hopbench takes
// the one named by --hopwire, else the one beside its own executable
// (make build puts both in bin/), else hopwire on PATH, else, run from
// hopwire's source tree (go run ./cmd/hopbench, as make bench does), one
// it builds into a temporary directory.

const module = "github.com/hopwire/hopwire"

// builtFrom begins the origin of a binary hopbench built.
const builtFrom = "built from the source tree at "

// hopwireBin is the binary found, where it came from, and a func that
// removes what finding it made. An empty path, with the reason, means
// none can be had.
func hopwireBin(flag string) (path, from string, cleanup func(), err error) {
	cleanup = func() {}
	if flag != "" {
		if _, err := os.Stat(flag); err != nil {
			return "", "", cleanup, fmt.Errorf("--hopwire: %w", err)
		}
		return flag, "--hopwire", cleanup, nil
	}
	if exe, err := os.Executable(); err == nil {
		beside := filepath.Join(filepath.Dir(exe), "hopwire")
		if isExecutable(beside) {
			return beside, "beside hopbench", cleanup, nil
		}
	}
	if p, err := exec.LookPath("hopwire"); err == nil {
		return p, "on PATH", cleanup, nil
	}
	root, ok := sourceTree()
	if !ok {
		return "", "", cleanup, errors.New("no hopwire binary beside hopbench or on PATH, and not run from hopwire's source tree (give one with --hopwire)")
	}
	dir, err := os.MkdirTemp("", "hopbench-bin")
	if err != nil {
		return "", "", cleanup, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	path = filepath.Join(dir, "hopwire")
	build := exec.Command("go", "build", "-o", path, "./cmd/hopwire")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		cleanup()
		return "", "", func() {}, fmt.Errorf("building hopwire in %s: %v\n%s", root, err, out)
	}
	return path, builtFrom + root, cleanup, nil
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// sourceTree returns the root of hopwire's module if the working
// directory is inside it, as the go command sees it.
func sourceTree() (string, bool) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		return "", false
	}
	path, dir, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
	return dir, ok && path == module && dir != ""
}
