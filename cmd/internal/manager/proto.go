package manager

import (
	"fmt"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Version is the protocol version this package speaks (doc.go).
const Version = 1

// MaxRequest is the largest request a node manager takes, in bytes of
// the message's payload: a message.send payload is at most a little
// less.
const MaxRequest = 64 << 10

// Limits of the decoders. A request is small and comes from a client
// that may be anything, so everything is capped; a response comes from
// the owner's own node and may list many connections, so its caps are
// looser.
const (
	maxNesting       = 8
	maxReqItems      = 4096    // array elements or map pairs in a request
	maxRespArrayElem = 1 << 20 // array elements in a response
	maxRespMapPairs  = 1 << 16 // map pairs in a response
)

// Op names: the request's op field (doc.go has the table).
const (
	OpNodeShow         = "node.show"
	OpServiceStart     = "service.start"
	OpServiceList      = "service.list"
	OpServiceStop      = "service.stop"
	OpListenerCreate   = "listener.create"
	OpListenerList     = "listener.list"
	OpListenerDelete   = "listener.delete"
	OpConnectionCreate = "connection.create"
	OpConnectionList   = "connection.list"
	OpConnectionDelete = "connection.delete"
	OpMessageSend      = "message.send"
	OpRelayCreate      = "relay.create"
	OpRelayList        = "relay.list"
	OpRelayDelete      = "relay.delete"
	OpOutletCreate     = "outlet.create"
	OpOutletList       = "outlet.list"
	OpOutletDelete     = "outlet.delete"
	OpInletCreate      = "inlet.create"
	OpInletList        = "inlet.list"
	OpInletDelete      = "inlet.delete"
)

// Code is a response's outcome: 0 for success, else why the op failed.
type Code uint8

// Response codes. New ones may be added; a client takes an unknown code
// for a failure (its text says what).
const (
	CodeOK         Code = 0
	CodeBadRequest Code = 1 // the request or its arguments cannot be used
	CodeUnknownOp  Code = 2 // no such op
	CodeNotFound   Code = 3 // the service, listener or connection named is not there
	CodeExists     Code = 4 // the name is taken
	CodeBusy       Code = 5 // too many requests in flight: try again
	CodeFailed     Code = 6 // the op was tried and failed (a port in use, a timeout)
	CodeVersion    Code = 7 // the request's protocol version is not this node's
)

var codeNames = [...]string{"ok", "bad request", "unknown op", "not found", "exists", "busy", "failed", "version"}

func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code %d", uint8(c))
}

// Error is what a failed op returns, on either side: the response's
// code and its one-line text, which is what the CLI prints.
type Error struct {
	Code Code
	Text string
}

func (e *Error) Error() string { return e.Text }

// errorf returns an *Error with a formatted text, kept to one line.
func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Text: oneLine(fmt.Sprintf(format, args...))}
}

// oneLine folds s onto one line.
func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.Join(strings.Fields(s), " ")
	}
	return s
}

// request is a request's envelope: {1: version, 2: op, 3: args}.
type request struct {
	Version uint64          `cbor:"1,keyasint"`
	Op      string          `cbor:"2,keyasint"`
	Args    cbor.RawMessage `cbor:"3,keyasint,omitempty"`
}

// response is a response's envelope: {1: version, 2: code, 3: error
// text, 4: body}.
type response struct {
	Version uint64          `cbor:"1,keyasint"`
	Code    Code            `cbor:"2,keyasint"`
	Error   string          `cbor:"3,keyasint,omitempty"`
	Body    cbor.RawMessage `cbor:"4,keyasint,omitempty"`
}

// Bodies, in responses.

// NodeInfo is node.show's answer.
type NodeInfo struct {
	Name        string                       `cbor:"1,keyasint" json:"name"`
	PID         int                          `cbor:"2,keyasint" json:"pid"`
	Started     time.Time                    `cbor:"3,keyasint" json:"started"`
	Listeners   []ListenerInfo               `cbor:"4,keyasint" json:"listeners"`
	Services    []ServiceInfo                `cbor:"5,keyasint" json:"services"`
	Connections []ConnInfo                   `cbor:"6,keyasint" json:"connections"`
	Counters    map[string]map[string]uint64 `cbor:"7,keyasint" json:"counters"`                     // "engine", "manager", and the embedder's (Config.Counters)
	Compress    string                       `cbor:"8,keyasint,omitempty" json:"compress,omitempty"` // the codec its TCP connections offer, if any
}

// ListenerInfo describes one of the node's listeners.
type ListenerInfo struct {
	Type string `cbor:"1,keyasint" json:"type"` // "tcp", "udp", "unix"
	Addr string `cbor:"2,keyasint" json:"addr"` // host:port, or a socket's path
	Flow uint64 `cbor:"3,keyasint" json:"flow"` // its access-control flow
}

// ServiceInfo describes a service the node manager started.
type ServiceInfo struct {
	Name string `cbor:"1,keyasint" json:"name"`
	Kind string `cbor:"2,keyasint" json:"kind"` // "echo", "hop", "uppercase"
}

// RelayInfo describes a relay: one this node registered at a relay node
// (Hosted false), or one registered at this node's forwarding service
// (Hosted true: State is "up", At is empty).
type RelayInfo struct {
	Name      string    `cbor:"1,keyasint" json:"name"`
	Forward   string    `cbor:"2,keyasint" json:"forward"` // forward_to_NAME on the relay node
	At        string    `cbor:"3,keyasint" json:"at,omitempty"`
	State     string    `cbor:"4,keyasint" json:"state"` // up, down, reconnecting, closed
	Since     time.Time `cbor:"5,keyasint" json:"since,omitzero"`
	LastError string    `cbor:"6,keyasint" json:"last_error,omitempty"`
	Hosted    bool      `cbor:"7,keyasint" json:"hosted,omitempty"`
}

// PortalInfo describes a TCP outlet (Name, Target) or inlet (Listen,
// Route), with its sessions' counters.
type PortalInfo struct {
	Kind     string `cbor:"1,keyasint" json:"kind"` // "outlet" or "inlet"
	Name     string `cbor:"2,keyasint" json:"name,omitempty"`
	Target   string `cbor:"3,keyasint" json:"target,omitempty"`
	Listen   string `cbor:"4,keyasint" json:"listen,omitempty"`
	Route    string `cbor:"5,keyasint" json:"route,omitempty"`
	Sessions uint64 `cbor:"6,keyasint" json:"sessions"`
	Open     uint64 `cbor:"7,keyasint" json:"open"`
	BytesIn  uint64 `cbor:"8,keyasint" json:"bytes_in"`
	BytesOut uint64 `cbor:"9,keyasint" json:"bytes_out"`
	Failed   uint64 `cbor:"10,keyasint" json:"failed"`
	Resets   uint64 `cbor:"11,keyasint" json:"resets"`
	Compress string `cbor:"12,keyasint,omitempty" json:"compress,omitempty"` // an inlet's sessions' codec, if any
	SavedIn  uint64 `cbor:"13,keyasint" json:"saved_in"`                     // what compression saved on the way in
	SavedOut uint64 `cbor:"14,keyasint" json:"saved_out"`                    // and on the way out
}

// ConnInfo describes one of the node's connections (links).
type ConnInfo struct {
	Addr   string `cbor:"1,keyasint" json:"addr"`   // what a route names it by: "0#<32 hex>" (TCP), "2#ip:port" (UDP)
	Type   string `cbor:"2,keyasint" json:"type"`   // "tcp", "udp", "unix"
	Peer   string `cbor:"3,keyasint" json:"peer"`   // the remote end
	Dialed bool   `cbor:"4,keyasint" json:"dialed"` // the node opened it
}

// sendReply is message.send's answer.
type sendReply struct {
	Payload []byte `cbor:"1,keyasint"`
}

// Arguments, in requests.

type serviceArgs struct {
	Kind string `cbor:"1,keyasint,omitempty"`
	Name string `cbor:"2,keyasint"`
}

// listenerArgs are listener.create's, listener.list's (Type only) and
// listener.delete's (Type optional).
type listenerArgs struct {
	Type string `cbor:"1,keyasint,omitempty"`
	Addr string `cbor:"2,keyasint,omitempty"`
}

// connArgs are connection.create's and connection.delete's (Addr only).
type connArgs struct {
	Type string `cbor:"1,keyasint,omitempty"`
	Addr string `cbor:"2,keyasint"`
}

// relayArgs are relay.create's (Name, At, Allow) and relay.delete's (Name).
type relayArgs struct {
	Name  string   `cbor:"1,keyasint"`
	At    string   `cbor:"2,keyasint,omitempty"` // the relay node's transport address, "1#host:port"
	Allow []string `cbor:"3,keyasint,omitempty"` // local service names; empty: the public services
}

// portalArgs are outlet.create's (Name, Target), inlet.create's (Listen,
// Route) and the deletes' (Name, or Listen).
type portalArgs struct {
	Name     string `cbor:"1,keyasint,omitempty"` // an outlet's service name
	Target   string `cbor:"2,keyasint,omitempty"` // an outlet's HOST:PORT
	Listen   string `cbor:"3,keyasint,omitempty"` // an inlet's HOST:PORT
	Route    string `cbor:"4,keyasint,omitempty"` // an inlet's route to its outlet (text)
	Compress string `cbor:"5,keyasint,omitempty"` // an inlet's sessions' codec: "s2", "zstd"; "" for none
}

type sendArgs struct {
	Route   string `cbor:"1,keyasint"`
	Payload []byte `cbor:"2,keyasint,omitempty"`
	Timeout uint64 `cbor:"3,keyasint,omitempty"` // milliseconds; 0 means DefaultSendTimeout
}

var (
	encMode  cbor.EncMode
	reqDec   cbor.DecMode
	respDec  cbor.DecMode
	errModes error
)

func init() {
	encMode, errModes = cbor.EncOptions{
		Sort:        cbor.SortCoreDeterministic,
		Time:        cbor.TimeRFC3339Nano,
		IndefLength: cbor.IndefLengthForbidden,
	}.EncMode()
	if errModes != nil {
		panic(errModes)
	}
	dec := func(arrays, maps int) cbor.DecMode {
		dm, err := cbor.DecOptions{
			DupMapKey:        cbor.DupMapKeyEnforcedAPF,
			MaxNestedLevels:  maxNesting,
			MaxArrayElements: arrays,
			MaxMapPairs:      maps,
			IndefLength:      cbor.IndefLengthForbidden,
			TagsMd:           cbor.TagsForbidden,
			UTF8:             cbor.UTF8RejectInvalid,
		}.DecMode()
		if err != nil {
			panic(err)
		}
		return dm
	}
	reqDec = dec(maxReqItems, maxReqItems)
	respDec = dec(maxRespArrayElem, maxRespMapPairs)
}

// encodeRequest encodes a request for op with args (nil: none).
func encodeRequest(op string, args any) ([]byte, error) {
	req := request{Version: Version, Op: op}
	if args != nil {
		b, err := encMode.Marshal(args)
		if err != nil {
			return nil, err
		}
		req.Args = b
	}
	return encMode.Marshal(req)
}

// decodeRequest reads a request's envelope. A request that cannot be
// used comes back as an *Error to answer with.
func decodeRequest(p []byte) (request, *Error) {
	var req request
	if len(p) > MaxRequest {
		return req, errorf(CodeBadRequest, "request of %d bytes is over the node manager's limit of %d", len(p), MaxRequest)
	}
	if err := reqDec.Unmarshal(p, &req); err != nil {
		return req, errorf(CodeBadRequest, "bad request: %v", err)
	}
	switch {
	case req.Version == 0:
		return req, errorf(CodeBadRequest, "bad request: no protocol version")
	case req.Version != Version:
		return req, errorf(CodeVersion, "the node manager speaks protocol version %d, the request is version %d: use a hopwire of the node's version", Version, req.Version)
	}
	return req, nil
}

// decodeArgs reads op's arguments into v; none leave v as it is.
func decodeArgs(op string, raw cbor.RawMessage, v any) *Error {
	if len(raw) == 0 {
		return nil
	}
	if err := reqDec.Unmarshal(raw, v); err != nil {
		return errorf(CodeBadRequest, "bad arguments for %s: %v", op, err)
	}
	return nil
}

// encodeResponse encodes a response with body (nil: none) or, if err is
// not nil, err's code and text.
func encodeResponse(body any, err *Error) []byte {
	resp := response{Version: Version}
	if err != nil {
		resp.Code, resp.Error = err.Code, err.Text
	} else if body != nil {
		b, e := encMode.Marshal(body)
		if e != nil {
			resp.Code, resp.Error = CodeFailed, oneLine("node manager: cannot encode the answer: "+e.Error())
		} else {
			resp.Body = b
		}
	}
	b, e := encMode.Marshal(resp)
	if e != nil { // cannot happen: the envelope is plain
		panic(e)
	}
	return b
}

// decodeResponse reads a response's envelope.
func decodeResponse(p []byte) (response, error) {
	var resp response
	if err := respDec.Unmarshal(p, &resp); err != nil {
		return resp, err
	}
	return resp, nil
}
