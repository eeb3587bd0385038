package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"luagate/declarative"
	"luagate/gateway"
)

// listFlag collects a comma-separated or repeated listen flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

func cmdStart(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	settings, err := gateway.SettingsFromEnv(getenv)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var conf string
	var proxy, admin, status listFlag
	var logLevel string
	fs.StringVar(&conf, "c", settings.DeclarativeConfig, "declarative config file (KONG_DECLARATIVE_CONFIG)")
	fs.StringVar(&conf, "conf", settings.DeclarativeConfig, "same as -c")
	fs.Var(&proxy, "proxy-listen", "proxy listen addresses, Kong syntax (KONG_PROXY_LISTEN, default 0.0.0.0:8000)")
	fs.Var(&admin, "admin-listen", "admin API listen addresses (KONG_ADMIN_LISTEN, default 127.0.0.1:8001; 'off' disables)")
	fs.Var(&status, "status-listen", "status API listen addresses (KONG_STATUS_LISTEN, default 127.0.0.1:8007; 'off' disables)")
	fs.StringVar(&logLevel, "log-level", settings.LogLevel, "debug, info, notice, warn, error, crit, alert or emerg (KONG_LOG_LEVEL)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: luagate start [-c kong.yml] [options]\n\nStart the gateway on a declarative config.\n\nOptions:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	if fs.NArg() > 0 {
		return fail(stderr, "unexpected argument %q", fs.Arg(0))
	}
	settings.DeclarativeConfig = conf
	if len(proxy) > 0 {
		settings.ProxyListen = proxy
	}
	if len(admin) > 0 {
		settings.AdminListen = admin
	}
	if len(status) > 0 {
		settings.StatusListen = status
	}
	settings.LogLevel = logLevel

	logger, err := gateway.NewLogger(settings, stderr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	g, err := gateway.New(settings, logger)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if conf != "" {
		if err := g.LoadFile(conf); err != nil {
			fmt.Fprintf(stderr, "Error: error parsing declarative config file %s:\n%s\n", conf, declarative.FormatText(err))
			return 1
		}
	} else {
		logger.Warn("no declarative config given (-c or KONG_DECLARATIVE_CONFIG): starting with an empty config, every request gets 404")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if conf == "" {
					continue
				}
				logger.Info("SIGHUP: reloading declarative config", slog.String("file", conf))
				g.Reload()
			}
		}
	}()
	fmt.Fprintf(stdout, "luagate %s started\n", gateway.Version)
	if err := g.Run(ctx); err != nil {
		return fail(stderr, "%v", err)
	}
	return 0
}
