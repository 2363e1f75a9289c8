// Package home is the CLI's state on disk: $HOPWIRE_HOME (default
// ~/.hopwire), and in it one directory per node,
//
//	nodes/NAME/config.json   what `node create` was asked for, and the ports it bound (node start reuses them)
//	nodes/NAME/state.json    the running process: pid, start time, listener addresses; gone when it stops
//	nodes/NAME/node.log      its standard output and error, and its log (size capped)
//	nodes/NAME/manager.sock  its node manager's Unix socket, mode 0600
//
// Directories are 0700 and files 0600: the node manager's socket is how a
// node is reconfigured, so only its owner may reach it. Files are written
// whole (a temporary file renamed over the old), so a reader never sees
// half of one.
package home

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hopwire/hopwire/wire"
)

// Env names the directory the CLI keeps its state in.
const Env = "HOPWIRE_HOME"

// Home is a state directory.
type Home struct{ Dir string }

// ErrNoNode is the answer about a node that was never created (or was
// deleted).
var ErrNoNode = errors.New("no such node")

// Open returns $HOPWIRE_HOME (or ~/.hopwire), created 0700 if it is not
// there, and checked to be a directory the CLI can write to.
func Open() (Home, error) {
	dir := os.Getenv(Env)
	if dir == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return Home{}, fmt.Errorf("no home directory to keep state in (set $%s): %w", Env, err)
		}
		dir = filepath.Join(h, ".hopwire")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return Home{}, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "nodes"), 0o700); err != nil {
		return Home{}, fmt.Errorf("$%s (%s) is not writable: %w", Env, dir, unwrapPath(err))
	}
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return Home{}, fmt.Errorf("$%s (%s) is not writable: %w", Env, dir, unwrapPath(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	return Home{Dir: dir}, nil
}

// unwrapPath drops the *PathError's own path, which the caller names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidName reports why name cannot name a node, or nil.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("bad node name %q: use 1 to 64 of A-Z a-z 0-9 _ -", name)
	}
	return nil
}

// Config is what a node was created with. Listen addresses hold the
// ports bound the first time, so that `node start` comes back on them.
type Config struct {
	Name      string    `json:"name"`
	TCP       string    `json:"tcp_listener,omitempty"`
	UDP       string    `json:"udp_listener,omitempty"`
	AllowDial []string  `json:"allow_dial,omitempty"`
	Compress  string    `json:"compress,omitempty"` // the TCP connections' codec: s2, zstd; "" or off for none
	Created   time.Time `json:"created"`
}

// State is a running node's.
type State struct {
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	TCP     string    `json:"tcp_listener,omitempty"` // host:port bound
	UDP     string    `json:"udp_listener,omitempty"`
	Manager string    `json:"manager"` // the manager's socket path
}

// NodeDir is the node's directory.
func (h Home) NodeDir(name string) string { return filepath.Join(h.Dir, "nodes", name) }

// Socket is the node manager's socket path.
func (h Home) Socket(name string) string { return filepath.Join(h.NodeDir(name), "manager.sock") }

// Log is the node's log file.
func (h Home) Log(name string) string { return filepath.Join(h.NodeDir(name), "node.log") }

func (h Home) configPath(name string) string { return filepath.Join(h.NodeDir(name), "config.json") }
func (h Home) statePath(name string) string  { return filepath.Join(h.NodeDir(name), "state.json") }

// Exists reports whether a node of that name was created (its directory
// is there, with its config or not).
func (h Home) Exists(name string) bool {
	_, err := os.Stat(h.NodeDir(name))
	return err == nil
}

// ErrExists is Claim's answer for a name that is taken.
var ErrExists = errors.New("node already exists")

// Claim makes the node's directory, which only one caller can do: two
// `node create` of one name at once do not both go on.
func (h Home) Claim(name string) error {
	err := os.Mkdir(h.NodeDir(name), 0o700)
	if errors.Is(err, os.ErrExist) {
		return ErrExists
	}
	return err
}

// Nodes returns the names of the nodes created, sorted.
func (h Home) Nodes() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(h.Dir, "nodes"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && ValidName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// SaveConfig writes the node's config, making its directory.
func (h Home) SaveConfig(c Config) error {
	if err := os.MkdirAll(h.NodeDir(c.Name), 0o700); err != nil {
		return err
	}
	return writeJSON(h.configPath(c.Name), c)
}

// LoadConfig reads a node's config: ErrNoNode if there is none.
func (h Home) LoadConfig(name string) (Config, error) {
	var c Config
	err := readJSON(h.configPath(name), &c)
	if errors.Is(err, os.ErrNotExist) {
		if h.Exists(name) {
			return c, fmt.Errorf("node %s has no config: it was never fully created (hopwire node delete %s removes it)", name, name)
		}
		return c, fmt.Errorf("node %s: %w", name, ErrNoNode)
	}
	return c, err
}

// SaveState records the running node.
func (h Home) SaveState(name string, s State) error { return writeJSON(h.statePath(name), s) }

// LoadState reads a node's state; ok is false if it has none (it is not
// running, or never started).
func (h Home) LoadState(name string) (s State, ok bool, err error) {
	err = readJSON(h.statePath(name), &s)
	if errors.Is(err, os.ErrNotExist) {
		return s, false, nil
	}
	return s, err == nil, err
}

// RemoveState forgets the running node (it stopped).
func (h Home) RemoveState(name string) error {
	if err := os.Remove(h.statePath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Remove deletes everything of the node's.
func (h Home) Remove(name string) error { return os.RemoveAll(h.NodeDir(name)) }

// Status is what a node's state says of its process.
type Status int

// Statuses.
const (
	Stopped Status = iota // no state: stopped, or never started
	Running               // its process is alive
	Stale                 // state left behind by a process that is gone (killed, crashed)
)

func (s Status) String() string { return [...]string{"stopped", "running", "stale"}[s] }

// Status says whether the node's process is running. A pid the state
// names that is alive but is not a hopwire node (the pid was reused) is
// stale.
func (h Home) Status(name string) (Status, State, error) {
	s, ok, err := h.LoadState(name)
	if err != nil || !ok {
		return Stopped, s, err
	}
	if Alive(s.PID) {
		return Running, s, nil
	}
	return Stale, s, nil
}

// Alive reports whether pid is a live hopwire process.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist) // no /proc: trust kill(0)
	}
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if _, rest, ok := strings.Cut(string(st), ") "); ok && strings.HasPrefix(rest, "Z") {
			return false // a zombie has exited
		}
	}
	return strings.Contains(string(cmd), "hopwire")
}

// Resolve turns /node/NAME into the node's TCP listener address, for
// multiaddrs (wire/multiaddr.Resolver).
func (h Home) Resolve(name string) (wire.Address, error) {
	if err := ValidName(name); err != nil {
		return wire.Address{}, err
	}
	if !h.Exists(name) {
		return wire.Address{}, fmt.Errorf("%w (hopwire node list shows the nodes)", ErrNoNode)
	}
	st, s, err := h.Status(name)
	if err != nil {
		return wire.Address{}, err
	}
	switch {
	case st != Running:
		return wire.Address{}, fmt.Errorf("it is not running (hopwire node start %s)", name)
	case s.TCP == "":
		return wire.Address{}, errors.New("it has no TCP listener")
	}
	return wire.NewAddress(wire.TCP, s.TCP)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
