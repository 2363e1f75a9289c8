// Command hopwire runs hopwire nodes.
//
//	hopwire node run --name n1 --tcp-listen 127.0.0.1:4000 --echo echoer --hop hop
//
// runs a node in the foreground until it is interrupted.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:          "hopwire",
		Short:        "Run hopwire nodes: workers at addresses, messages routed between them",
		SilenceUsage: true,
	}
	node := &cobra.Command{
		Use:   "node",
		Short: "Run and manage nodes",
	}
	node.AddCommand(newNodeRun())
	root.AddCommand(node)
	return root
}
