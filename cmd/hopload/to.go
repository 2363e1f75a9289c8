package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hopwire/hopwire/cmd/internal/home"
	"github.com/hopwire/hopwire/wire"
	"github.com/hopwire/hopwire/wire/multiaddr"
)

// parseTo turns the --to text, a route or a multiaddr, into a route and
// checks that it can leave the node. A multiaddr's /node is looked up in
// $HOPWIRE_HOME, as the hopwire command does.
func parseTo(text string) (wire.Route, error) {
	var route wire.Route
	if t := strings.TrimSpace(text); strings.HasPrefix(t, "/") {
		r, err := resolveMultiaddr(t)
		if err != nil {
			return nil, err
		}
		route = r
	} else {
		r, err := wire.ParseRoute(text)
		if err != nil {
			return nil, fmt.Errorf("--to %q: %w", text, err)
		}
		route = r
	}
	if err := route.Validate(); err != nil {
		return nil, fmt.Errorf("--to %q: %w", text, err)
	}
	first := route[0]
	switch first.Type() {
	case wire.TCP, wire.UDP:
	case wire.Local:
		return nil, fmt.Errorf("--to %q: the first address, %q, is local to hopload's own node, where no service runs: start the route with the node to load, e.g. '1#127.0.0.1:4000 => %s' or /ip4/127.0.0.1/tcp/4000/service/%s",
			text, first.Value(), first.Value(), first.Value())
	default:
		return nil, fmt.Errorf("--to %q: the first address, %v, has transport type %d; hopload speaks TCP (1#host:port) and UDP (2#ip:port)",
			text, first, first.Type())
	}
	if len(route) < 2 {
		example := fmt.Sprintf("'%v => echoer'", first)
		if strings.HasPrefix(strings.TrimSpace(text), "/") {
			example = strings.TrimSpace(text) + "/service/echoer"
		}
		return nil, fmt.Errorf("--to %q: the route ends at the node's address; name the echo service on it too, e.g. %s", text, example)
	}
	return route, nil
}

// resolveMultiaddr parses a multiaddr and turns it into a route. Its
// error is one line that names the offending segment.
func resolveMultiaddr(text string) (wire.Route, error) {
	route, err := func() (wire.Route, error) {
		ma, err := multiaddr.Parse(text)
		if err != nil {
			return nil, err
		}
		var h *home.Home // opened only for a /node
		return ma.Route(func(name string) (wire.Address, error) {
			if h == nil {
				hh, err := home.Open()
				if err != nil {
					return wire.Address{}, err
				}
				h = &hh
			}
			return h.Resolve(name)
		})
	}()
	if err == nil {
		return route, nil
	}
	var me *multiaddr.Error
	if errors.As(err, &me) && me.Segment != "" {
		return nil, fmt.Errorf("--to %q: at %s: %s", text, me.Segment, me.Reason)
	}
	if errors.As(err, &me) {
		return nil, fmt.Errorf("--to %q: %s", text, me.Reason)
	}
	return nil, fmt.Errorf("--to %q: %w", text, err)
}
