package portal

import (
	"errors"

	"github.com/hopwire/hopwire/engine"
)

// Errors of the package's API, for errors.Is. ErrClosed is also an
// engine.ErrClosed.
var (
	ErrClosed    = engine.NewError("portal: closed", engine.ErrClosed)
	ErrNoTarget  = errors.New("portal: OutletConfig.Target is empty")
	ErrNoRoute   = errors.New("portal: InletConfig.Route is empty")
	ErrBadConfig = errors.New("portal: configuration out of range")
)
