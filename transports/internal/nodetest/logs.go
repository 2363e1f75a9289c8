package nodetest

import (
	"context"
	"log/slog"
	"slices"
	"sync"
)

// LogLine is one record a LogCapture kept: its level, message and
// attributes (those of the logger's With included) as text.
type LogLine struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// LogCapture is a slog.Handler that keeps every record, at every level,
// for tests that count what a node logs. Safe for concurrent use.
type LogCapture struct {
	s     *logStore
	attrs []slog.Attr
}

type logStore struct {
	mu    sync.Mutex
	lines []LogLine
}

// NewLogCapture returns an empty LogCapture.
func NewLogCapture() *LogCapture { return &LogCapture{s: &logStore{}} }

func (h *LogCapture) Enabled(context.Context, slog.Level) bool { return true }

func (h *LogCapture) Handle(_ context.Context, r slog.Record) error {
	l := LogLine{Level: r.Level, Msg: r.Message, Attrs: make(map[string]string, len(h.attrs)+r.NumAttrs())}
	for _, a := range h.attrs {
		l.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		l.Attrs[a.Key] = a.Value.String()
		return true
	})
	h.s.mu.Lock()
	h.s.lines = append(h.s.lines, l)
	h.s.mu.Unlock()
	return nil
}

func (h *LogCapture) WithAttrs(as []slog.Attr) slog.Handler {
	return &LogCapture{s: h.s, attrs: append(slices.Clip(h.attrs), as...)}
}

// WithGroup keeps the handler as it is: groups are flattened.
func (h *LogCapture) WithGroup(string) slog.Handler { return h }

// Lines returns the records kept so far that keep says to, all if keep
// is nil.
func (h *LogCapture) Lines(keep func(LogLine) bool) []LogLine {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	var out []LogLine
	for _, l := range h.s.lines {
		if keep == nil || keep(l) {
			out = append(out, l)
		}
	}
	return out
}
