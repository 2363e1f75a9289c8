package bench

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Machine is where and what a report measured: figures from two reports
// compare only as far as these agree.
type Machine struct {
	Date       time.Time `json:"date"`
	Commit     string    `json:"commit"` // of this program; "+dirty" when built from a modified tree
	GoVersion  string    `json:"go_version"`
	OSArch     string    `json:"os_arch"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	NumCPU     int       `json:"num_cpu"`
	CPU        string    `json:"cpu"`
	Kernel     string    `json:"kernel"`
	// Load is the 1-minute load average when the run began and ended: on
	// a shared machine, how much else ran beside it.
	Load          [2]float64 `json:"load_average"`
	Hopwire       string     `json:"hopwire_binary,omitempty"` // the binary the process scenarios ran
	HopwireFrom   string     `json:"hopwire_from,omitempty"`   // where it was found
	HopwireCommit string     `json:"hopwire_commit,omitempty"`
}

// ReadMachine describes this machine and program now; hopwire is the
// binary the process scenarios run, or "", from where it was found, and
// commit the commit it was built from if it does not record it itself.
func ReadMachine(hopwire, from, commit string) Machine {
	m := Machine{
		Date:        time.Now().UTC().Truncate(time.Second),
		Commit:      selfCommit(),
		GoVersion:   runtime.Version(),
		OSArch:      runtime.GOOS + "/" + runtime.GOARCH,
		GOMAXPROCS:  runtime.GOMAXPROCS(0),
		NumCPU:      runtime.NumCPU(),
		CPU:         cpuModel(),
		Kernel:      kernel(),
		Load:        [2]float64{loadAverage(), 0},
		Hopwire:     hopwire,
		HopwireFrom: from,
	}
	if hopwire != "" {
		m.HopwireCommit = "unknown"
		if commit != "" {
			m.HopwireCommit = commit
		}
		if info, err := buildinfo.ReadFile(hopwire); err == nil {
			if c := vcsCommit(info.Settings); c != "" {
				m.HopwireCommit = c
			}
		}
	}
	return m
}

// selfCommit is the commit this program was built from: stamped by go
// build, else (go run and go test do not stamp it) the work tree's.
func selfCommit() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		if c := vcsCommit(info.Settings); c != "" {
			return c
		}
	}
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		c += "+dirty"
	}
	return c
}

func vcsCommit(settings []debug.BuildSetting) string {
	var rev string
	var dirty bool
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return ""
	}
	rev = rev[:min(12, len(rev))]
	if dirty {
		rev += "+dirty"
	}
	return rev
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func kernel() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:])
}

// loadAverage is the 1-minute load average, or 0 where there is none.
func loadAverage() float64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return float64(si.Loads[0]) / (1 << unix.SI_LOAD_SHIFT)
}
