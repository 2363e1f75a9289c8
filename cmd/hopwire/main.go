// Command hopwire creates and drives hopwire nodes, as the ockam command
// drives Ockam's:
//
//	hopwire node create n1
//	hopwire service start hop --at n1
//	hopwire message send hello --to /node/n1/service/hop/service/echo
//	hopwire node delete --all --yes
//
// Nodes run in the background, each with a node manager on a Unix socket
// in its state directory ($HOPWIRE_HOME, default ~/.hopwire) that only
// its owner can reach; the other commands are its clients. `hopwire node
// run` runs a node in the foreground from flags alone, for containers and
// service units.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set by the build (-ldflags "-X main.version=v1.2.3"); a
// build from a checkout says its commit.
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the exit status: 0, 1 for a
// failure, 2 for a command line that does not parse. The error is one
// line on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "hopwire:", err)
	var ue *usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return 2
	}
	return 1
}

// usageError is a command line that does not parse.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "hopwire",
		Short: "Create and drive hopwire nodes: workers at addresses, messages routed between them",
		Long: `hopwire creates nodes that run in the background, starts services on them,
opens listeners and connections, and sends messages along multiaddrs.

State lives in $HOPWIRE_HOME (default ~/.hopwire).`,
		Example: `  hopwire node create n1
  hopwire message send hello --to /node/n1/service/echo
  hopwire service start hop --at n1
  hopwire message send hello --to /node/n1/service/hop/service/echo
  hopwire node delete --all --yes`,
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE:          func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err.Error()} })
	root.PersistentFlags().StringVarP(&outputFormat, "output", "o", "text", "output format: text or json")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if outputFormat != "text" && outputFormat != "json" {
			return usagef("--output %q: want text or json", outputFormat)
		}
		return nil
	}
	root.AddCommand(newNodeCmd(), newMessageCmd(), newServiceCmd(),
		newListenerCmd("tcp"), newConnectionCmd("tcp"), newListenerCmd("udp"), newRelayCmd(),
		newOutletCmd(), newInletCmd())
	return root
}

// group is a command that only holds others: run bare it shows its
// help; with an argument it does not know it is a usage error.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: noArgs, RunE: func(c *cobra.Command, _ []string) error { return c.Help() }}
	c.AddCommand(subs...)
	return c
}

// noArgs refuses arguments with the usage exit status, naming an unknown
// subcommand as one.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if c.HasSubCommands() {
		return usagef("unknown command %q for %q (see %s --help)", args[0], c.CommandPath(), c.CommandPath())
	}
	return usagef("%s takes no arguments, got %q", c.CommandPath(), args[0])
}

// exactArgs wants n arguments, saying which are missing.
func exactArgs(n int, names ...string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		if len(args) < n {
			return usagef("%s needs %s (see %s --help)", c.CommandPath(), names[len(args)], c.CommandPath())
		}
		return usagef("%s takes %d argument(s), got %d", c.CommandPath(), n, len(args))
	}
}

// isCobraUsage reports whether err is one of cobra's own command-line
// errors (unknown flag, missing required flag).
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand flag", "required flag", "flag needs an argument", "invalid argument"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "dev"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v + " " + bi.GoVersion
}
