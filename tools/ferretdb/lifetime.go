package main

// How long the server lives, and over which data folder. Two rules (docs/decisions.md, "Embedded
// database"):
//
//   - One server per data folder. FerretDB's write lock (serialized_writes.go) makes claims atomic
//     only among the commands of one process; two servers on one SQLite store could each hand out the
//     same job. So the server takes an exclusive flock on <data>/server.lock before it opens any SQLite
//     file and holds it until it exits. The kernel drops a flock when its holder dies, however it dies,
//     so a lock left by a dead server never blocks the next start. The file says who holds it (pid and
//     address), for the message a second start prints.
//   - It dies with its launcher. With -exit-with-stdin the launcher gives the server the read end of a
//     pipe whose write end only the launcher holds; the kernel closes that end when the launcher dies,
//     by any signal, kill -9 included, and the server sees end of file and stops. Unlike Linux's
//     parent-death signal this does not depend on which thread of the launcher started the server.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

const (
	lockFileName = "server.lock"
	// A launcher may test the lock for an instant (a shared flock) before starting us; a start that
	// meets such a test waits it out instead of failing.
	lockPatience = time.Second
	// Past this after the launcher is gone, the server exits even if FerretDB has not finished
	// stopping: the launcher promised its users that the server goes with it.
	orphanExitDeadline = time.Second
	// exitFolderInUse is what the launcher reads as "another server holds this data folder".
	exitFolderInUse = 3
)

// lockHolder is what server.lock records about the server that holds it.
type lockHolder struct {
	PID    int    `json:"pid"`
	Listen string `json:"listen"`
}

// errFolderInUse names the server that holds the data folder.
type errFolderInUse struct {
	dataDir string
	holder  lockHolder
}

func (e *errFolderInUse) Error() string {
	if e.holder.PID == 0 {
		return fmt.Sprintf("data folder %s is in use by another ferretdb-embedded (pid unknown)", e.dataDir)
	}
	return fmt.Sprintf("data folder %s is in use by ferretdb-embedded pid %d on %s", e.dataDir, e.holder.PID, e.holder.Listen)
}

// holdDataFolder takes the data folder's lock and records this server in it. The returned file must
// stay open for the server's lifetime: closing it (or a finalizer doing so) would release the lock.
func holdDataFolder(dataDir, listen string) (*os.File, error) {
	path := filepath.Join(dataDir, lockFileName)
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open %s: %w", path, err)
	}
	if err := flockPatiently(file); err != nil {
		holder := readHolder(file)
		file.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &errFolderInUse{dataDir: dataDir, holder: holder}
		}
		return nil, fmt.Errorf("cannot lock %s: %w", path, err)
	}
	record, _ := json.Marshal(lockHolder{PID: os.Getpid(), Listen: listen})
	if err := file.Truncate(0); err != nil {
		file.Close()
		return nil, fmt.Errorf("cannot write %s: %w", path, err)
	}
	if _, err := file.WriteAt(append(record, '\n'), 0); err != nil {
		file.Close()
		return nil, fmt.Errorf("cannot write %s: %w", path, err)
	}
	return file, nil
}

func flockPatiently(file *os.File) error {
	deadline := time.Now().Add(lockPatience)
	for {
		err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func readHolder(file *os.File) lockHolder {
	var holder lockHolder
	content, err := io.ReadAll(io.NewSectionReader(file, 0, 4096))
	if err == nil {
		_ = json.Unmarshal(content, &holder)
	}
	return holder
}

// stopWhenLauncherGoes cancels the server's context when stdin reaches end of file (or fails), and
// exits the process if the server has not stopped by orphanExitDeadline.
func stopWhenLauncherGoes(cancel context.CancelFunc) {
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		fmt.Fprintln(os.Stderr, "the launcher is gone (stdin closed): stopping")
		cancel()
		time.Sleep(orphanExitDeadline)
		fmt.Fprintln(os.Stderr, "the launcher is gone and FerretDB did not stop in time: exiting")
		os.Exit(1)
	}()
}
