package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"techledger/commands"
	"techledger/ledger"
)

// commandIndexFile is the file, beside the projections' snapshot, holding the command
// handler's saved index (commands.Handler.SaveIndex), so that serve does not read the
// whole log on its first command after a restart.
const commandIndexFile = "commands.idx"

// commandIndexSaveEvery is how often serve saves the command index, if it moved on by at
// least commandIndexSaveRecordsMin records: what a restart after a crash reads again.
const (
	commandIndexSaveEvery      = 5 * time.Minute
	commandIndexSaveRecordsMin = 100_000
)

// warmHandler loads the command index saved in dir (if any, and if it matches the log),
// then catches up with the log, so that the first command is answered at once. It logs
// what it did and how long it took, and returns the mapping the handler answers from (nil:
// none), for keepCommandIndex.
func warmHandler(ctx context.Context, h *commands.Handler, dir string, logger *slog.Logger) (mapped []byte, err error) {
	start := time.Now()
	if dir != "" {
		b, err := mapFile(filepath.Join(dir, commandIndexFile))
		switch {
		case err == nil:
			pos, err := h.LoadIndexBytes(ctx, b)
			// Checking it read every page: give them back; lookups read what they need.
			_ = syscall.Madvise(b, syscall.MADV_DONTNEED)
			if err != nil {
				_ = syscall.Munmap(b)
				logger.Warn("command index ignored, reading the log", "reason", err.Error())
			} else {
				mapped = b
				logger.Info("command index loaded", "position", pos, "took", time.Since(start).Round(time.Millisecond))
			}
		case !errors.Is(err, os.ErrNotExist):
			logger.Warn("command index not readable, reading the log", "err", err.Error())
		}
	}
	from := h.IndexPosition()
	if err := h.CatchUp(ctx); err != nil {
		return mapped, fmt.Errorf("command index: %w", err)
	}
	logger.Info("command index caught up", "from", from, "to", h.IndexPosition(), "took", time.Since(start).Round(time.Millisecond))
	return mapped, nil
}

// mapFile maps the file name read-only. The mapping of a loaded command index is kept
// for the life of the process (the handler answers from it, and a server has one handler
// for its whole life); the file is replaced by renaming a new one over it, never changed in
// place, so the mapping stays valid. An empty file is mapped as an empty slice.
func mapFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 {
		return []byte{}, nil
	}
	if fi.Size() > commands.IndexBytesMax {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, commands.IndexBytesMax)
	}
	// MAP_POPULATE: loading checks the CRC, which reads every page; mapping them all at
	// once is faster than a fault per page.
	b, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", name, err)
	}
	return b, nil
}

// saveCommandIndex writes the handler's index to dir through a synced temporary file.
func saveCommandIndex(ctx context.Context, h *commands.Handler, dir string) (ledger.Position, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	name := filepath.Join(dir, commandIndexFile)
	f, err := os.Create(name + ".tmp")
	if err != nil {
		return 0, err
	}
	pos, err := h.SaveIndex(ctx, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && pos > 0 {
		err = os.Rename(name+".tmp", name)
	}
	if err != nil || pos == 0 {
		os.Remove(name + ".tmp")
	}
	return pos, err
}

// useSavedIndex makes h answer from the command index saved in dir (mapped), and releases
// mapped, the mapping it answered from before (if any). It returns the new mapping; on an
// error h is left as it was, with mapped.
func useSavedIndex(ctx context.Context, h *commands.Handler, dir string, mapped []byte) ([]byte, error) {
	b, err := mapFile(filepath.Join(dir, commandIndexFile))
	if err != nil {
		return nil, err
	}
	_, err = h.UseSavedIndex(ctx, b)
	_ = syscall.Madvise(b, syscall.MADV_DONTNEED)
	if err != nil {
		_ = syscall.Munmap(b)
		return nil, err
	}
	if len(mapped) > 0 {
		_ = syscall.Munmap(mapped)
	}
	return b, nil
}

// keepCommandIndex saves the index every commandIndexSaveEvery while it moves on, until
// ctx is done, and once more then. After a periodic save the handler answers from the file
// just saved (mapped; the mapping it answered from before, mapped, is released), so that it
// holds in memory only the commands since. mapped is the mapping warmHandler returned.
func keepCommandIndex(ctx context.Context, h *commands.Handler, dir string, mapped []byte, logger *slog.Logger) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	save := func() bool {
		start := time.Now()
		pos, err := saveCommandIndex(context.Background(), h, dir)
		if err != nil {
			logger.Warn("command index not saved", "err", err.Error())
			return false
		}
		logger.Info("command index saved", "position", pos, "took", time.Since(start).Round(time.Millisecond))
		return pos > 0
	}
	use := func() {
		b, err := useSavedIndex(context.Background(), h, dir, mapped)
		if err != nil {
			logger.Warn("command index saved, not used until the next start", "err", err.Error())
			return
		}
		mapped = b
	}
	go func() {
		defer close(stopped)
		saved := h.IndexPosition()
		t := time.NewTicker(commandIndexSaveEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				save()
				return
			case <-t.C:
				if p := h.IndexPosition(); p >= saved+commandIndexSaveRecordsMin {
					if save() {
						use()
					}
					saved = p
				}
			}
		}
	}()
	return func() { close(done); <-stopped }
}
