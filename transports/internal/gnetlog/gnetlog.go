// Package gnetlog sends gnet's logging to a node's slog.Logger, for the
// transports built on gnet.
package gnetlog

import (
	"context"
	"fmt"
	"log/slog"
)

// Logger is a gnet logging.Logger writing to l. gnet's info messages
// ("launching gnet with N event-loops") go out at debug level, and
// nothing is formatted for a level l does not log. Note that gnet also
// keeps the logger of the engine started last in a package variable for
// its few global messages.
type Logger struct{ L *slog.Logger }

func (g Logger) logf(lvl slog.Level, format string, args ...any) {
	if g.L.Enabled(context.Background(), lvl) {
		g.L.Log(context.Background(), lvl, "gnet: "+fmt.Sprintf(format, args...))
	}
}

func (g Logger) Debugf(format string, args ...any) { g.logf(slog.LevelDebug, format, args...) }
func (g Logger) Infof(format string, args ...any)  { g.logf(slog.LevelDebug, format, args...) }
func (g Logger) Warnf(format string, args ...any)  { g.logf(slog.LevelWarn, format, args...) }
func (g Logger) Errorf(format string, args ...any) { g.logf(slog.LevelError, format, args...) }
func (g Logger) Fatalf(format string, args ...any) { g.logf(slog.LevelError, format, args...) }
