// Command ferretdb-embedded runs FerretDB v1 with its SQLite backend behind one TCP address.
//
// It exists because `go install .../cmd/ferretdb` panics without a version file; embedding the
// `ferretdb` package gives the dev stack and the test suite a real MongoDB wire-protocol server
// without Docker.
//
// FerretDB v1 runs findAndModify, update and delete as a query followed by a separate write, so two
// concurrent conditional updates of one document can both succeed (measured: 49 of 50 trials of 12
// concurrent claims had several winners). MongoDB makes each single-document write atomic, and the
// job leases of AI Spark depend on it. So FerretDB listens on a private Unix socket, and this
// program fronts it with a small wire-protocol proxy that lets reads through concurrently but runs
// write commands one at a time. It stops cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

const (
	opMsg         = 2013
	moreToCome    = 1 << 1
	headerLength  = 16
	maxMessageLen = 48 * 1024 * 1024
)

// Commands that read and then write a document; running them one at a time makes them atomic.
var serialized = map[string]bool{
	"findandmodify": true, "update": true, "delete": true, "insert": true,
	"createindexes": true, "dropindexes": true, "drop": true, "dropdatabase": true, "create": true,
}

// writeLock is taken by every serialized command for the whole request/response exchange.
var writeLock sync.Mutex

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("data", "data", "folder that holds the SQLite files")
	logLevel := flag.String("log-level", "error", "debug, info, warn or error")
	flag.Parse()

	if err := run(*listen, *dataDir, *logLevel); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(listen, dataDir, logLevel string) error {
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

	socketDir, err := os.MkdirTemp("", "ferretdb-")
	if err != nil {
		return fmt.Errorf("cannot create a socket folder: %w", err)
	}
	defer os.RemoveAll(socketDir)
	socket := filepath.Join(socketDir, "ferretdb.sock")

	server, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{Unix: socket},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dataDir + "/",
	})
	if err != nil {
		return fmt.Errorf("cannot start FerretDB: %w", err)
	}

	front, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", listen, err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = server.Run(ctx)
	}()

	if err := waitForSocket(socket, 10*time.Second); err != nil {
		return err
	}

	go func() {
		<-ctx.Done()
		front.Close()
	}()

	fmt.Printf("mongodb://%s/\n", front.Addr())
	serve(front, socket, logger)
	<-done
	return nil
}

func waitForSocket(socket string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if conn, err := net.Dial("unix", socket); err == nil {
			conn.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("FerretDB did not listen on %s within %s", socket, timeout)
}

func serve(front net.Listener, socket string, logger *slog.Logger) {
	for {
		client, err := front.Accept()
		if err != nil {
			return // closed on shutdown
		}
		go func() {
			if err := relay(client, socket); err != nil && !errors.Is(err, io.EOF) {
				logger.Debug("connection ended", "error", err)
			}
		}()
	}
}

// relay forwards one client's requests to its own FerretDB connection, one exchange at a time
// (the protocol is request/response per connection), holding writeLock around write commands.
func relay(client net.Conn, socket string) error {
	defer client.Close()
	backend, err := net.Dial("unix", socket)
	if err != nil {
		return err
	}
	defer backend.Close()

	for {
		request, err := readMessage(client)
		if err != nil {
			return err
		}
		if err := exchange(request, client, backend); err != nil {
			return err
		}
	}
}

func exchange(request []byte, client, backend net.Conn) error {
	if needsLock(request) {
		writeLock.Lock()
		defer writeLock.Unlock()
	}
	if _, err := backend.Write(request); err != nil {
		return err
	}
	if flags(request)&moreToCome != 0 {
		return nil // an unacknowledged write: no reply comes
	}
	for {
		reply, err := readMessage(backend)
		if err != nil {
			return err
		}
		if _, err := client.Write(reply); err != nil {
			return err
		}
		if flags(reply)&moreToCome == 0 {
			return nil
		}
	}
}

func readMessage(conn net.Conn) ([]byte, error) {
	header := make([]byte, headerLength)
	if _, err := io.ReadFull(conn, header); err != nil {
		return nil, err
	}
	length := int(binary.LittleEndian.Uint32(header[0:4]))
	if length < headerLength || length > maxMessageLen {
		return nil, fmt.Errorf("bad message length %d", length)
	}
	message := make([]byte, length)
	copy(message, header)
	if _, err := io.ReadFull(conn, message[headerLength:]); err != nil {
		return nil, err
	}
	return message, nil
}

func opCode(message []byte) uint32 {
	return binary.LittleEndian.Uint32(message[12:16])
}

func flags(message []byte) uint32 {
	if opCode(message) != opMsg || len(message) < headerLength+4 {
		return 0
	}
	return binary.LittleEndian.Uint32(message[headerLength : headerLength+4])
}

// needsLock reads the command name: the first key of the OP_MSG body (the kind 0 section).
func needsLock(message []byte) bool {
	if opCode(message) != opMsg {
		return false
	}
	position := headerLength + 4
	end := len(message)
	if flags(message)&1 != 0 {
		end -= 4 // a checksum ends the message
	}
	for position < end {
		kind := message[position]
		position++
		if position+4 > end {
			return false
		}
		size := int(binary.LittleEndian.Uint32(message[position : position+4]))
		if kind == 0 {
			return serialized[strings.ToLower(firstKey(message[position:end]))]
		}
		position += size // a kind 1 section: its size includes the size field
	}
	return false
}

func firstKey(document []byte) string {
	// int32 size, then elements: one type byte, a NUL-terminated key, the value.
	if len(document) < 6 {
		return ""
	}
	keyStart := 5
	for index := keyStart; index < len(document); index++ {
		if document[index] == 0 {
			return string(document[keyStart:index])
		}
	}
	return ""
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
