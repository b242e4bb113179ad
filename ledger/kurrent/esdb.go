package kurrent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// This file holds every call into EventStore-Client-Go v4 (package esdb): the rest of the
// package sees only the client interface.

// esdbClient is the client on a KurrentDB / EventStoreDB server.
type esdbClient struct {
	c *esdb.Client
}

var _ client = (*esdbClient)(nil)

// dialESDB makes a client for a connection string made by ParseURL. The client connects on
// its first call.
func dialESDB(conn string) (*esdbClient, error) {
	cfg, err := esdb.ParseConnectionString(conn)
	if err != nil {
		return nil, fmt.Errorf("kurrent: connection string: %w", err)
	}
	cfg.Logger = esdb.NoopLogging() // the default prints to the console
	c, err := esdb.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("kurrent: client: %w", err)
	}
	return &esdbClient{c: c}, nil
}

func (c *esdbClient) Append(ctx context.Context, stream string, expectedLast int64, events []wireEvent) (uint64, error) {
	if len(events) == 0 {
		panic("kurrent: empty append") // the server would append nothing and answer oddly
	}
	data := make([]esdb.EventData, len(events))
	for i, e := range events {
		data[i] = esdb.EventData{EventID: e.ID, EventType: e.Type, ContentType: esdb.ContentTypeJson, Data: e.Data, Metadata: e.Metadata}
	}
	var exp esdb.ExpectedRevision = esdb.NoStream{}
	if expectedLast >= 0 {
		exp = esdb.Revision(uint64(expectedLast))
	}
	res, err := c.c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: exp, RequiresLeader: true}, data...)
	if err != nil {
		return 0, translate(err)
	}
	return res.NextExpectedVersion, nil
}

func (c *esdbClient) Read(ctx context.Context, stream string, from, count uint64) ([]wireEvent, error) {
	rs, err := c.c.ReadStream(ctx, stream, esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Revision(from), RequiresLeader: true}, count)
	if err != nil {
		return nil, notFoundEmpty(translate(err))
	}
	defer rs.Close()
	var out []wireEvent
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, notFoundEmpty(translate(err))
		}
		out = append(out, fromRecorded(ev.Event))
	}
}

// errNotFound marks a missing stream; reads answer it as an empty stream.
var errNotFound = errors.New("kurrent: stream not found")

func notFoundEmpty(err error) error {
	if errors.Is(err, errNotFound) {
		return nil
	}
	return err
}

func fromRecorded(e *esdb.RecordedEvent) wireEvent {
	return wireEvent{ID: e.EventID, Type: e.EventType, Data: e.Data, Metadata: e.UserMetadata, Revision: e.EventNumber}
}

// subscribeFrom maps an inclusive start revision to the client's subscription start, which
// is exclusive: Start{} delivers revision 0, Revision(n) delivers n+1 onwards.
func subscribeFrom(from uint64) esdb.StreamPosition {
	if from == 0 {
		return esdb.Start{}
	}
	return esdb.Revision(from - 1)
}

func (c *esdbClient) Subscribe(ctx context.Context, stream string, from uint64) (subscription, error) {
	sub, err := c.c.SubscribeToStream(ctx, stream, esdb.SubscribeToStreamOptions{From: subscribeFrom(from)})
	if err != nil {
		return nil, translate(err)
	}
	return &esdbSubscription{sub: sub}, nil
}

type esdbSubscription struct {
	sub *esdb.Subscription
}

func (s *esdbSubscription) Recv() (wireEvent, error) {
	for {
		ev := s.sub.Recv()
		switch {
		case ev.EventAppeared != nil:
			return fromRecorded(ev.EventAppeared.Event), nil
		case ev.SubscriptionDropped != nil:
			return wireEvent{}, fmt.Errorf("kurrent: subscription dropped: %w", translate(ev.SubscriptionDropped.Error))
		}
		// CaughtUp, FellBehind, checkpoints: nothing to deliver.
	}
}

func (s *esdbSubscription) Close() error { return s.sub.Close() }

func (c *esdbClient) Settings(ctx context.Context, stream string) (streamSettings, error) {
	meta, err := c.c.GetStreamMetadata(ctx, stream, esdb.ReadStreamOptions{RequiresLeader: true})
	if err != nil {
		err = translate(err)
		if errors.Is(err, errDeleted) {
			return streamSettings{Deleted: true}, nil
		}
		if errors.Is(err, errNotFound) {
			return streamSettings{}, nil
		}
		return streamSettings{}, err
	}
	var st streamSettings
	st.TruncateBefore = meta.TruncateBefore()
	st.MaxCount = meta.MaxCount()
	if d := meta.MaxAge(); d != nil {
		s := uint64(*d / time.Second)
		st.MaxAgeSeconds = &s
	}
	return st, nil
}

func (c *esdbClient) Close() error { return c.c.Close() }

// translate maps the client's errors onto the package's (see translateCode).
func translate(err error) error {
	if err == nil {
		return nil
	}
	var e *esdb.Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return fmt.Errorf("%w: %w", errUnknownOutcome, err)
		}
		return err
	}
	return translateCode(e.Code(), status.Code(e.Err()), err)
}

// translateCode maps a client error code (and, for unclassified errors, the gRPC code under
// it) onto the package's errors, keeping err's text.
func translateCode(code esdb.ErrorCode, grpcCode codes.Code, err error) error {
	switch code {
	case esdb.ErrorCodeWrongExpectedVersion:
		return fmt.Errorf("%w: %v", &revisionError{Actual: -1}, err)
	case esdb.ErrorCodeResourceNotFound:
		return fmt.Errorf("%w: %v", errNotFound, err)
	case esdb.ErrorCodeStreamDeleted:
		return fmt.Errorf("%w: %v", errDeleted, err)
	case esdb.ErrorCodeDeadlineExceeded, esdb.ErrorUnavailable, esdb.ErrorCodeNotLeader, esdb.ErrorCodeConnectionClosed, esdb.ErrorAborted:
		return fmt.Errorf("%w: %v", errUnknownOutcome, err)
	case esdb.ErrorCodeAccessDenied, esdb.ErrorCodeUnauthenticated:
		return fmt.Errorf("%w: %v", errDenied, err)
	case esdb.ErrorCodeUnknown:
		if grpcCode == codes.InvalidArgument {
			// The server's maximum append size (1 MiB by default) is reported this way.
			return fmt.Errorf("%w: %v", errTooLarge, err)
		}
	}
	return err
}
