package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/hopwire/hopwire/cmd/internal/home"
	"github.com/hopwire/hopwire/cmd/internal/manager"
	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/engine/relay"
	"github.com/hopwire/hopwire/transports/tcp"
	"github.com/hopwire/hopwire/transports/udp"
	"github.com/hopwire/hopwire/transports/unix"
	"github.com/hopwire/hopwire/wire"
)

// runManaged runs the node cfg names until ctx is done: TCP, UDP and Unix
// transports, the node manager on its socket, the echo and uppercase
// services, and the listeners cfg asks for (TCP on 127.0.0.1:0 by
// default). Once all of that is up it records the node's state and calls
// ready; when ctx ends it stops and removes the state. Background and
// foreground nodes both run here.
func runManaged(ctx context.Context, h home.Home, cfg home.Config, log *slog.Logger, ready func(home.State)) error {
	node, err := engine.NewNode(engine.Config{Name: cfg.Name, Logger: log, AllowDial: cfg.AllowDial})
	if err != nil {
		return err
	}
	defer node.Close()
	codec, err := wire.ParseCodec(cfg.Compress)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	tcpTr, err := tcp.New(node, tcp.Config{Compress: codec})
	if err != nil {
		return err
	}
	udpTr, err := udp.New(node, udp.Config{ClientAddr: udpClientAddr(cfg.UDP)})
	if err != nil {
		return fmt.Errorf("udp: %w", err)
	}
	if _, err := unix.New(node, unix.Config{}); err != nil {
		return err
	}

	// Every node can be a relay node: the forwarding service is public.
	fwd, err := relay.NewService(node, relay.ServiceConfig{Logger: log})
	if err != nil {
		return err
	}
	defer fwd.Close()

	started := time.Now().UTC().Truncate(time.Millisecond)
	sock := h.Socket(cfg.Name)
	if len(sock) > unix.MaxUnixPath {
		return fmt.Errorf("the node manager's socket path %s is longer than the OS allows (%d bytes): set $%s to a shorter directory", sock, unix.MaxUnixPath, home.Env)
	}
	mgr, err := manager.Serve(node, manager.Config{
		Socket:     sock,
		Started:    started,
		Logger:     log,
		Forwarding: fwd,
		Compress:   cfg.Compress,
		Counters: func() map[string]map[string]uint64 {
			return map[string]map[string]uint64{"tcp": manager.Counters(tcpTr.Stats()), "udp": manager.Counters(udpTr.Stats())}
		},
	})
	if err != nil {
		return err
	}
	defer mgr.Close()
	for _, svc := range []string{"echo", "uppercase"} {
		if err := mgr.StartService(svc, svc); err != nil {
			return err
		}
	}

	st := home.State{PID: os.Getpid(), Started: started, Manager: sock}
	tcpAddr := cfg.TCP
	if tcpAddr == "" {
		tcpAddr = "127.0.0.1:0"
	}
	l, err := mgr.Listen("tcp", tcpAddr)
	if err != nil {
		return err
	}
	st.TCP = l.Addr
	if cfg.UDP != "" {
		l, err := mgr.Listen("udp", cfg.UDP)
		if err != nil {
			return err
		}
		st.UDP = l.Addr
	}
	// The ports bound are the node's from now on: `node start` reuses them.
	cfg.TCP, cfg.UDP = st.TCP, st.UDP
	if err := h.SaveConfig(cfg); err != nil {
		return err
	}
	if err := h.SaveState(cfg.Name, st); err != nil {
		return err
	}
	defer h.RemoveState(cfg.Name)
	log.Info("node ready", "tcp", st.TCP, "udp", st.UDP, "manager", sock, "pid", st.PID)
	ready(st)

	<-ctx.Done()
	log.Info("stopping", "engine", fmt.Sprintf("%+v", node.Stats()), "tcp", fmt.Sprintf("%+v", tcpTr.Stats()), "udp", fmt.Sprintf("%+v", udpTr.Stats()))
	return nil
}

// udpClientAddr keeps datagrams to new peers on the listener's IP (a node
// bound to loopback stays there), else the udp package's default.
func udpClientAddr(listen string) string {
	if ap, err := netip.ParseAddrPort(listen); err == nil && !ap.Addr().IsUnspecified() {
		return netip.AddrPortFrom(ap.Addr(), 0).String()
	}
	return ""
}
