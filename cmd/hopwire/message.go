package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"github.com/hopwire/hopwire/cmd/internal/home"
	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/transports/udp"
	"github.com/hopwire/hopwire/wire"
	"github.com/hopwire/hopwire/wire/multiaddr"
)

func newMessageCmd() *cobra.Command {
	return group("message", "Send messages along routes", newMessageSend())
}

func newMessageSend() *cobra.Command {
	var to, from string
	var timeout time.Duration
	var hexMode bool
	cmd := &cobra.Command{
		Use:   "send MESSAGE --to MULTIADDR",
		Short: "Send a message and print the reply's payload",
		Long: `Send MESSAGE along the route MULTIADDR names and print the reply's payload,
and nothing else.

Without --from, this command runs a node of its own for the moment and
dials the first transport segment of the address (/node/NAME is that
node's TCP listener). With --from NODE, the node NODE sends it, so
/worker/HEX can name one of NODE's connections.

An address may cross several transport hops: the node before each one
connects to it if the message may make it (node create --allow-dial);
a refusal comes back as an error.`,
		Example: `  hopwire message send hello --to /node/n1/service/echo
  hopwire message send hello --to /node/n1/service/hop/service/uppercase
  hopwire message send hello --to /ip4/127.0.0.1/tcp/4000/service/hop/ip4/127.0.0.1/tcp/5000/service/echo
  hopwire message send hello --from n2 --to /worker/3f2a.../service/echo
  hopwire message send 68656c6c6f --hex --to /node/n1/service/echo`,
		Args: exactArgs(1, "a MESSAGE"),
		RunE: func(c *cobra.Command, args []string) error {
			payload := []byte(args[0])
			if hexMode {
				b, err := hex.DecodeString(args[0])
				if err != nil {
					return usagef("--hex: MESSAGE is not hex: %v", err)
				}
				payload = b
			}
			if to == "" {
				return usagef("%s needs --to MULTIADDR", c.CommandPath())
			}
			if timeout <= 0 {
				return usagef("--timeout must be positive")
			}
			route, err := resolveRoute(to)
			if err != nil {
				return err
			}
			var reply []byte
			if from != "" {
				cl, err := dialManager(from)
				if err != nil {
					return err
				}
				defer cl.Close()
				reply, err = cl.SendMessage(route.String(), payload, timeout)
				if err != nil {
					return err
				}
			} else if reply, err = sendDirect(route, payload, timeout); err != nil {
				return explainSendError(err, to, timeout)
			}
			out := string(reply)
			if hexMode {
				out = hex.EncodeToString(reply)
			}
			return emit(c.OutOrStdout(), map[string]string{"reply": out}, func(w io.Writer) { fmt.Fprintln(w, out) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "where to send it: a multiaddr such as /node/n1/service/echo")
	f.StringVar(&from, "from", "", "send it from this node (through its node manager)")
	f.DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the reply")
	f.BoolVar(&hexMode, "hex", false, "MESSAGE is hex, and the reply is printed as hex")
	return cmd
}

// resolveRoute parses a multiaddr and turns it into a route, /node/NAME
// segments into that node's TCP listener.
func resolveRoute(s string) (wire.Route, error) {
	ma, err := multiaddr.Parse(s)
	if err != nil {
		return nil, err
	}
	var h *home.Home
	return ma.Route(func(name string) (wire.Address, error) {
		if h == nil {
			hh, err := openHome()
			if err != nil {
				return wire.Address{}, err
			}
			h = &hh
		}
		return h.Resolve(name)
	})
}

// sendDirect sends from a node of this process's own, made for the one
// message: it dials the route's first transport address.
func sendDirect(route wire.Route, payload []byte, timeout time.Duration) ([]byte, error) {
	if route[0].IsLocal() {
		return nil, errors.New("the address starts with a worker, and this command has none: start it with /node/NAME, /ip4/.../tcp/PORT, or send --from a node")
	}
	node, err := engine.NewNode(engine.Config{Name: "cli", Loops: 1})
	if err != nil {
		return nil, err
	}
	defer node.Close()
	if _, err := tcp.New(node, tcp.Config{EventLoops: 1}); err != nil {
		return nil, err
	}
	if route[0].Type() == wire.UDP {
		if _, err := udp.New(node, udp.Config{ClientAddr: loopbackClient(route[0].Value())}); err != nil {
			return nil, err
		}
	}
	app, err := node.NewContext(wire.LocalAddr("cli"))
	if err != nil {
		return nil, err
	}
	reply, err := app.Request(route, payload, timeout)
	if err != nil {
		return nil, err
	}
	defer reply.Release()
	return append([]byte(nil), reply.Payload()...), nil
}

// loopbackClient keeps datagrams to a loopback peer on loopback; others
// leave from the udp package's default socket.
func loopbackClient(peer string) string {
	if ap, err := netip.ParseAddrPort(peer); err == nil && ap.Addr().IsLoopback() {
		return netip.AddrPortFrom(ap.Addr(), 0).String()
	}
	return ""
}

// explainSendError says a timeout in terms of the address the user gave.
func explainSendError(err error, to string, timeout time.Duration) error {
	var re *engine.RefusedError
	switch {
	case errors.Is(err, engine.ErrTimeout):
		return fmt.Errorf("no reply from %s within %v", to, timeout)
	case errors.As(err, &re):
		return fmt.Errorf("refused on the way to %s: %s", to, re.Text)
	}
	return err
}
