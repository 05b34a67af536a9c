package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/frontdoor-dev/frontdoor/internal/session"
	"github.com/frontdoor-dev/frontdoor/internal/utf8cut"
)

// SessionTrailField is the field of the session hash that holds the
// customer's latest trail entry, so that a backend allowed to see the
// trail gets it from the request's one context lookup.
const SessionTrailField = "frontdoor_trail"

// Entry is one thing a backend recorded about the customer: a note ("told
// the customer a refund within 5 days") and/or a case number.
type Entry struct {
	Time      time.Time `json:"time"`
	Journey   string    `json:"journey"`
	Backend   string    `json:"backend"`
	Owner     string    `json:"owner"`
	Status    int       `json:"status"`
	RequestID string    `json:"request_id"`
	Note      string    `json:"note,omitempty"`
	Case      string    `json:"case,omitempty"`
}

// TrailOptions bound what a trail keeps.
type TrailOptions struct {
	MaxEntries int64         // per customer; default 100
	TTL        time.Duration // since the latest entry; default 30 days
	Queue      int           // entries waiting to be written; default 1024
}

// Trail writes entries asynchronously through a bounded queue: recording
// never delays a response, and when Redis cannot keep up entries are
// dropped and counted rather than piling up in memory.
type Trail struct {
	client redis.UniversalClient
	opts   TrailOptions
	queue  *queue[trailJob]
}

type trailJob struct {
	customerID string
	sessionKey string // the session hash to store the latest entry in, or ""
	entry      Entry
}

// NewTrail starts the trail writer.
func NewTrail(client redis.UniversalClient, opts TrailOptions, logger *zap.Logger) *Trail {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 100
	}
	if opts.TTL <= 0 {
		opts.TTL = 30 * 24 * time.Hour
	}
	if opts.Queue <= 0 {
		opts.Queue = 1024
	}
	t := &Trail{client: client, opts: opts}
	t.queue = newQueue(opts.Queue, t.write, logFailure(logger, "trail: entry not written",
		func(job trailJob) zap.Field { return zap.String("request_id", job.entry.RequestID) }))
	return t
}

func trailKey(customerID string) string { return "frontdoor:trail:" + customerID }

// Record queues an entry without blocking. It reports false when the
// entry was dropped: the queue is full, or the trail closed. The note and
// case are stored as CleanText makes them.
func (t *Trail) Record(customerID, sessionKey string, e Entry) bool {
	e.Note, e.Case = CleanText(e.Note), CleanText(e.Case)
	return t.queue.add(trailJob{customerID: customerID, sessionKey: sessionKey, entry: e})
}

// Stats returns how many entries were written, dropped (queue full) and
// failed (Redis error).
func (t *Trail) Stats() (written, dropped, failed uint64) { return t.queue.stats() }

func (t *Trail) write(job trailJob) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	e := job.entry
	raw, err := sessionCopy(e)
	if err != nil {
		return err
	}
	key := trailKey(job.customerID)
	_, err = t.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: t.opts.MaxEntries, Approx: false, Values: map[string]any{
			"time": e.Time.UTC().Format(time.RFC3339Nano), "journey": e.Journey, "backend": e.Backend,
			"owner": e.Owner, "status": strconv.Itoa(e.Status), "request_id": e.RequestID,
			"note": e.Note, "case": e.Case,
		}})
		p.Expire(ctx, key, t.opts.TTL)
		if job.sessionKey != "" {
			setSessionField(ctx, p, job.sessionKey, SessionTrailField, raw)
		}
		return nil
	})
	return err
}

// Read returns up to n of the customer's entries, newest first.
func Read(ctx context.Context, client redis.UniversalClient, customerID string, n int64) ([]Entry, error) {
	msgs, err := client.XRevRangeN(ctx, trailKey(customerID), "+", "-", n).Result()
	if err != nil {
		return nil, fmt.Errorf("reading trail: %w", err)
	}
	out := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		get := func(k string) string { s, _ := m.Values[k].(string); return s }
		at, _ := time.Parse(time.RFC3339Nano, get("time"))
		status, _ := strconv.Atoi(get("status"))
		out = append(out, Entry{Time: at, Journey: get("journey"), Backend: get("backend"), Owner: get("owner"),
			Status: status, RequestID: get("request_id"), Note: get("note"), Case: get("case")})
	}
	return out, nil
}

// Close stops accepting entries and writes those already queued. Entries
// recorded after Close are dropped and counted.
func (t *Trail) Close() { t.queue.close() }

// sessionCopy is the latest entry as the session hash keeps it: JSON a
// backend reads as a context value, which the gateway hands on only up to
// session.MaxValueLen bytes. The note, then the case, are shortened (at a
// character boundary) until it fits; the stream keeps them whole.
func sessionCopy(e Entry) ([]byte, error) {
	for {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // "<" is a byte, not six, of the room a note has
		if err := enc.Encode(e); err != nil {
			return nil, err
		}
		raw := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		over := len(raw) - session.MaxValueLen
		switch {
		case over <= 0:
			return raw, nil
		case e.Note != "":
			e.Note = utf8cut.Prefix(e.Note, max(len(e.Note)-over, 0))
		case e.Case != "":
			e.Case = utf8cut.Prefix(e.Case, max(len(e.Case)-over, 0))
		default:
			return raw, nil // the rest is the gateway's own, bounded fields
		}
	}
}
