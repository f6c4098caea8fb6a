// Command ferretdb-embedded runs FerretDB v1 with its SQLite backend on one TCP address.
//
// It exists because `go install .../cmd/ferretdb` panics without a version file; embedding the
// `ferretdb` package gives the dev stack and the test suite a real MongoDB wire-protocol server
// without Docker. tools/embedded_mongo.py builds it against a patched FerretDB; one patch
// (serialized_writes.go) runs the commands that write one at a time, which makes each of them atomic
// as on MongoDB. It stops cleanly on SIGINT or SIGTERM, and with -exit-with-stdin also when its
// launcher dies (lifetime.go). It refuses a data folder that another server holds.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("data", "data", "folder that holds the SQLite files")
	logLevel := flag.String("log-level", "error", "debug, info, warn or error")
	exitWithStdin := flag.Bool("exit-with-stdin", false, "stop when stdin reaches end of file (the launcher's pipe)")
	noPushdown := flag.Bool("no-pushdown", false, "filter, count, sort and limit in Go as upstream does, without our SQLite pushdowns (for differential tests)")
	flag.Parse()

	// Our patches live in FerretDB's internal packages, which this program cannot import: they read
	// the switch from the environment (sqlite_pushdown.go, pushdownDisabled).
	if *noPushdown {
		os.Setenv("AI_SPARK_FERRETDB_NO_PUSHDOWN", "1")
	}

	if err := run(*listen, *dataDir, *logLevel, *exitWithStdin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		var inUse *errFolderInUse
		if errors.As(err, &inUse) {
			os.Exit(exitFolderInUse)
		}
		os.Exit(1)
	}
}

func run(listen, dataDir, logLevel string, exitWithStdin bool) error {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("cannot create data folder %s: %w", dataDir, err)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad -log-level %q: %w", logLevel, err)
	}
	logger := slog.New(&lazyHandler{base: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})})

	// FerretDB allocates per document (decode, patch, re-encode); at Go's default GOGC of 100 the
	// collector took 8-10 % of the server's CPU under the job load. Its heap is a few MB, so
	// trading memory for less collection is cheap. An explicit GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if exitWithStdin {
		stopWhenLauncherGoes(stop)
	}

	// Before FerretDB opens any SQLite file: a folder another server holds is never opened.
	lock, err := holdDataFolder(dataDir, listen)
	if err != nil {
		return err
	}
	defer lock.Close() // also keeps the file, and so the lock, alive until the server has stopped

	server, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dataDir + "/",
	})
	if err != nil {
		return fmt.Errorf("cannot start FerretDB: %w", err)
	}

	fmt.Printf("mongodb://%s/\n", listen)
	if err := server.Run(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("FerretDB stopped: %w", err)
	}
	return nil
}

// lazyHandler puts off slog's formatting of a derived logger's attributes until a record is written.
// FerretDB derives a logger for every SQL statement with the statement and its arguments (the whole
// document as JSON) as attributes, and the text handler quotes them at once: 6 % of the server's CPU
// in a profile of job writes, for debug lines that the default level never writes.
type lazyHandler struct {
	base    slog.Handler
	derives []func(slog.Handler) slog.Handler
}

func (h *lazyHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.base.Enabled(ctx, level)
}

func (h *lazyHandler) Handle(ctx context.Context, record slog.Record) error {
	handler := h.base
	for _, derive := range h.derives {
		handler = derive(handler)
	}
	return handler.Handle(ctx, record)
}

func (h *lazyHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.derive(func(handler slog.Handler) slog.Handler { return handler.WithAttrs(attrs) })
}

func (h *lazyHandler) WithGroup(name string) slog.Handler {
	return h.derive(func(handler slog.Handler) slog.Handler { return handler.WithGroup(name) })
}

func (h *lazyHandler) derive(step func(slog.Handler) slog.Handler) slog.Handler {
	derives := make([]func(slog.Handler) slog.Handler, len(h.derives), len(h.derives)+1)
	copy(derives, h.derives)
	return &lazyHandler{base: h.base, derives: append(derives, step)}
}
