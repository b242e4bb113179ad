package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ShutdownGrace bounds how long a stopping server waits for requests in flight.
const ShutdownGrace = 30 * time.Second

// headerBytesMax bounds a request's headers.
const headerBytesMax = 16 << 10

// Serve serves h on ln until ctx is done, then stops gracefully: no new connections, and
// requests in flight finish. Requests do not inherit ctx, so a signal does not cancel an
// append in flight; only requests that outlast grace are cancelled, and then Serve
// reports an error.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, grace time.Duration) error {
	reqCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: headerBytesMax,
		BaseContext:    func(net.Listener) context.Context { return reqCtx },
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("stopping: no new connections; finishing requests in flight")
	shutdown, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		cancelRequests()
		return fmt.Errorf("requests still in flight after %s were cancelled: %w", grace, err)
	}
	logger.Info("stopped")
	return nil
}
