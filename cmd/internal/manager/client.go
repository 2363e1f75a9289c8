package manager

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hopwire/hopwire/engine"
	"github.com/hopwire/hopwire/transports/unix"
	"github.com/hopwire/hopwire/wire"
)

// DefaultTimeout is how long a Client waits for an answer, unless Dial
// was given another.
const DefaultTimeout = 10 * time.Second

// sendSlack is how much longer than a message.send's own timeout its
// client waits: the node answers when that timeout is up.
const sendSlack = 2 * time.Second

// Client talks to a node manager: an in-process node of its own with a
// Unix transport, one connection to the manager's socket and one app
// context. Its methods are safe for concurrent use (they take turns).
type Client struct {
	socket  string
	timeout time.Duration
	node    *engine.Node
	app     *engine.App
	conn    engine.Conn
	route   wire.Route // [the connection, the manager]

	mu sync.Mutex // one request at a time: App.Request is for one goroutine
}

// Dial connects to the node manager listening at socket. timeout bounds
// the connection and each call (0 means DefaultTimeout). A manager that
// is not there is reported by an error that names the socket.
func Dial(socket string, timeout time.Duration) (*Client, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	node, err := engine.NewNode(engine.Config{Name: "hopwire-cli", Loops: 1, MailboxSize: 64})
	if err != nil {
		return nil, err
	}
	c := &Client{socket: socket, timeout: timeout, node: node}
	if _, err := unix.New(node, unix.Config{EventLoops: 1, DialTimeout: timeout, HandshakeTimeout: timeout}); err != nil {
		node.Close()
		return nil, err
	}
	conn, err := node.Connect(wire.Unix, socket)
	if err != nil {
		node.Close()
		return nil, c.notAnswering(err)
	}
	c.conn = conn
	c.route = wire.Route{conn.Addr(), Addr}
	if c.app, err = node.NewContext(wire.LocalAddr("cli")); err != nil {
		node.Close()
		return nil, err
	}
	go c.watch()
	return c, nil
}

// watch wakes a request waiting for its answer when the connection
// closes: the message it sends itself is taken for the answer, and
// roundTrip sees the connection closed. It ends with the client's node.
func (c *Client) watch() {
	select {
	case <-c.conn.Done():
		c.app.Send(wire.Route{c.app.Address()}, nil)
	case <-c.node.Done():
	}
}

func (c *Client) notAnswering(err error) error {
	return fmt.Errorf("node manager at %s is not answering: %w", c.socket, err)
}

// Close tears the client's node down. It is idempotent.
func (c *Client) Close() error { return c.node.Close() }

// call sends op with args (nil: none) and decodes the answer's body into
// body (nil: ignore it). A failed op comes back as an *Error.
func (c *Client) call(op string, args, body any, timeout time.Duration) error {
	p, err := encodeRequest(op, args)
	if err != nil {
		return err
	}
	resp, err := c.roundTrip(p, timeout)
	if err != nil {
		return err
	}
	if resp.Code != CodeOK {
		text := resp.Error
		if text == "" {
			text = op + ": " + resp.Code.String()
		}
		return &Error{Code: resp.Code, Text: text}
	}
	if body != nil && len(resp.Body) > 0 {
		if err := respDec.Unmarshal(resp.Body, body); err != nil {
			return fmt.Errorf("node manager at %s: bad answer to %s: %w", c.socket, op, err)
		}
	}
	return nil
}

// roundTrip sends a request's bytes and reads the response's envelope.
func (c *Client) roundTrip(p []byte, timeout time.Duration) (response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.app.Request(c.route, p, timeout)
	if err != nil {
		if errors.Is(err, engine.ErrTimeout) {
			return response{}, c.notAnswering(fmt.Errorf("no answer within %v", timeout))
		}
		return response{}, c.notAnswering(err)
	}
	defer m.Release()
	if isClosed(c.conn.Done()) {
		return response{}, c.notAnswering(errors.New("the connection closed"))
	}
	resp, err := decodeResponse(m.Payload())
	if err != nil {
		return response{}, fmt.Errorf("node manager at %s: bad response: %w", c.socket, err)
	}
	return resp, nil
}

// NodeShow returns what the node is running.
func (c *Client) NodeShow() (NodeInfo, error) {
	var info NodeInfo
	err := c.call(OpNodeShow, nil, &info, c.timeout)
	return info, err
}

// StartService starts a service of kind ("echo", "hop", "uppercase") at
// the local address name.
func (c *Client) StartService(kind, name string) error {
	return c.call(OpServiceStart, serviceArgs{Kind: kind, Name: name}, nil, c.timeout)
}

// ListServices lists the services the node manager started, by name.
func (c *Client) ListServices() ([]ServiceInfo, error) {
	var out []ServiceInfo
	err := c.call(OpServiceList, nil, &out, c.timeout)
	return out, err
}

// StopService stops a service the node manager started.
func (c *Client) StopService(name string) error {
	return c.call(OpServiceStop, serviceArgs{Name: name}, nil, c.timeout)
}

// CreateListener opens a listener of typ ("tcp", "udp") at addr
// (host:port; port 0 picks one).
func (c *Client) CreateListener(typ, addr string) (ListenerInfo, error) {
	var info ListenerInfo
	err := c.call(OpListenerCreate, listenerArgs{Type: typ, Addr: addr}, &info, c.timeout)
	return info, err
}

// ListListeners lists the node's listeners of typ ("" for all).
func (c *Client) ListListeners(typ string) ([]ListenerInfo, error) {
	var out []ListenerInfo
	err := c.call(OpListenerList, listenerArgs{Type: typ}, &out, c.timeout)
	return out, err
}

// DeleteListener closes the listener at addr that the node manager
// opened; typ ("tcp", "udp") is needed only if two have that address.
func (c *Client) DeleteListener(typ, addr string) error {
	return c.call(OpListenerDelete, listenerArgs{Type: typ, Addr: addr}, nil, c.timeout)
}

// CreateConnection makes the node connect to addr (host:port) over typ
// ("tcp", "udp"). Its Addr ("0#<32 hex>" for TCP) starts a route over it.
func (c *Client) CreateConnection(typ, addr string) (ConnInfo, error) {
	var info ConnInfo
	err := c.call(OpConnectionCreate, connArgs{Type: typ, Addr: addr}, &info, c.timeout)
	return info, err
}

// ListConnections lists the node's connections (not the node manager's
// own clients').
func (c *Client) ListConnections() ([]ConnInfo, error) {
	var out []ConnInfo
	err := c.call(OpConnectionList, nil, &out, c.timeout)
	return out, err
}

// DeleteConnection closes a connection the node manager opened, by its
// address ("0#<32 hex>", "2#ip:port").
func (c *Client) DeleteConnection(addr string) error {
	return c.call(OpConnectionDelete, connArgs{Addr: addr}, nil, c.timeout)
}

// SendMessage makes the node send payload along route (its text form)
// and returns the reply's payload. timeout is how long the node waits
// for the reply (0: DefaultSendTimeout); the client waits a little
// longer, and at least its own timeout.
func (c *Client) SendMessage(route string, payload []byte, timeout time.Duration) ([]byte, error) {
	wait := DefaultSendTimeout
	if timeout > 0 {
		wait = timeout
	}
	ms := uint64(timeout / time.Millisecond)
	if timeout > 0 && ms == 0 {
		ms = 1
	}
	var r sendReply
	err := c.call(OpMessageSend, sendArgs{Route: route, Payload: payload, Timeout: ms}, &r, max(c.timeout, wait+sendSlack))
	return r.Payload, err
}
