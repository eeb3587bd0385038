package gateway

import (
	"fmt"
	"io"
	"log/slog"

	"luagate/lualib"
)

// Kong's log levels as slog levels (between slog's own, so text and JSON
// handlers order them correctly).
const (
	LevelDebug  = slog.LevelDebug
	LevelInfo   = slog.LevelInfo
	LevelNotice = slog.Level(2)
	LevelWarn   = slog.LevelWarn
	LevelError  = slog.LevelError
	LevelCrit   = slog.Level(10)
	LevelAlert  = slog.Level(11)
	LevelEmerg  = slog.Level(12)
)

type levelInfo struct {
	slog slog.Level
	lua  lualib.Level
}

var levelNames = map[string]levelInfo{
	"debug":  {LevelDebug, lualib.LevelDebug},
	"info":   {LevelInfo, lualib.LevelInfo},
	"notice": {LevelNotice, lualib.LevelNotice},
	"warn":   {LevelWarn, lualib.LevelWarn},
	"error":  {LevelError, lualib.LevelErr},
	"crit":   {LevelCrit, lualib.LevelCrit},
	"alert":  {LevelAlert, lualib.LevelAlert},
	"emerg":  {LevelEmerg, lualib.LevelEmerg},
}

func parseLevel(name string) (levelInfo, bool) {
	l, ok := levelNames[name]
	return l, ok
}

// slogLevel maps a PDK level (kong.log.*, ngx.log) to slog.
func slogLevel(l lualib.Level) slog.Level {
	switch l {
	case lualib.LevelDebug:
		return LevelDebug
	case lualib.LevelInfo:
		return LevelInfo
	case lualib.LevelNotice:
		return LevelNotice
	case lualib.LevelWarn:
		return LevelWarn
	case lualib.LevelErr, lualib.LevelStderr:
		return LevelError
	case lualib.LevelCrit:
		return LevelCrit
	case lualib.LevelAlert:
		return LevelAlert
	}
	return LevelEmerg
}

func levelName(l slog.Level) string {
	switch {
	case l < LevelInfo:
		return "debug"
	case l < LevelNotice:
		return "info"
	case l < LevelWarn:
		return "notice"
	case l < LevelError:
		return "warn"
	case l < LevelCrit:
		return "error"
	case l < LevelAlert:
		return "crit"
	case l < LevelEmerg:
		return "alert"
	}
	return "emerg"
}

// NewLogger returns the logger the settings ask for (log_level, log_format),
// writing to w, with Kong's level names.
func NewLogger(s Settings, w io.Writer) (*slog.Logger, error) {
	lvl, ok := parseLevel(s.LogLevel)
	if !ok {
		return nil, fmt.Errorf("log_level: %q is not one of debug, info, notice, warn, error, crit, alert, emerg", s.LogLevel)
	}
	if s.LogFormat != "" && s.LogFormat != "text" && s.LogFormat != "json" {
		return nil, fmt.Errorf("log_format: %q is not one of text, json", s.LogFormat)
	}
	opts := &slog.HandlerOptions{
		Level: lvl.slog,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.LevelKey {
				if l, ok := a.Value.Any().(slog.Level); ok {
					a.Value = slog.StringValue(levelName(l))
				}
			}
			return a
		},
	}
	if s.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
