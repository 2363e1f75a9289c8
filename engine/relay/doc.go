// Package relay makes a node that accepts no connections reachable
// through a relay node it dials out to, as Ockam's relays do.
//
// On the relay node (n2), NewService starts the forwarding service,
// public, at "forwarding_service". On the node behind the firewall (n3),
// Create connects to n2, registers a name (NAME) and keeps the
// registration alive; n2 then runs forward_to_NAME, an engine.Forwarder
// whose route leads back over n3's connection to the relay's worker on
// n3. Anyone who reaches n2 reaches n3's public services along
//
//	<connection to n2> => forward_to_NAME => uppercase
//
// and the reply comes back the way the message came.
//
// # Access control
//
// On the relay node, the service and every forward_to_NAME are public.
// A registration can point its forwarder only back over the link it came
// in on (the first address of its return route must be that link's), so
// the right a Forwarder has to leave over a link (engine/access.go) takes
// traffic only to the registrant. A name belongs to whoever registered it
// first, while its link is up: the service keeps the SHA-256 of a 128-bit
// secret it hands the registrant, and refuses the live name to anyone
// without it.
//
// On the registrant, traffic through the relay arrives over the relay's
// own connection, which carries nothing else; it has that connection's
// origin and reaches what the engine lets that origin reach: public
// services, Config.Allow, and the relay's worker. The worker, where the
// forwarder delivers, also checks every local address at the front of
// the route (Config.Allow, or public services if Allow is empty), so a
// public hop cannot pass the traffic on to anything else; it drops and
// counts the rest and tells the sender, as the engine does. No app
// context, portal session, node manager or embedder's worker is on a
// reply path of the relay's connection, so none is reachable through it.
// See Relay for the one caveat: workers allowed for the transport's
// dialed flow.
//
// # Liveness
//
// The registrant pings itself through forward_to_NAME; its connection
// closing, or no ping back within PingTimeout, starts a reconnection with
// exponential backoff and jitter, which registers again with the secret.
// The relay node keeps everything in memory: after it restarts, the
// registrant's next registration finds the name free and takes it back
// (with the defaults, traffic flows again well within two seconds:
// BenchmarkRecovery).
//
// # Protocol
//
// Registration payloads are a small versioned binary encoding (proto.go).
package relay
