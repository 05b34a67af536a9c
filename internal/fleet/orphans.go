package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Orphan causes; they are metric label values.
const (
	CauseHungUp        = "hung_up"        // the backend closed the customer's chat or stream
	CauseErrorPage     = "error_page"     // the customer got a brand error page for the backend
	CauseRepeatContact = "repeat_contact" // the customer came back within the repeat window
)

// Orphan is a known customer a backend dropped on a journey, kept so the
// brand's own team can call them back.
type Orphan struct {
	Time       time.Time `json:"time"`
	Journey    string    `json:"journey"`
	Backend    string    `json:"backend"`
	Owner      string    `json:"owner"`
	Vendor     string    `json:"vendor,omitempty"`
	Cause      string    `json:"cause"`
	CustomerID string    `json:"customer_id"`
	RequestID  string    `json:"request_id"`
}

// OrphanOptions bound what the list of recent orphans keeps.
type OrphanOptions struct {
	MaxEntries int64         // newest orphans listed; default 1000
	MaxAge     time.Duration // orphans older than this leave the list; default 7 days
	Queue      int           // orphans waiting to be written; default 1024
}

// SessionMarker is a field written into the customer's session hash when
// an orphan is recorded: the rescue marker the request path reads with its
// one context lookup, so that rescuing costs no Redis round trip.
type SessionMarker struct {
	Key, Field, Value string
	// Live reports whether a value already in the field still rescues
	// the session; nil: none does. A live one is kept when the customer,
	// already recorded, is dropped again: the rescue stays about the
	// first drop and its window is not stretched.
	Live func(value string) bool
}

// OrphanReport is what the recorder of an orphan is told, from the writer's
// goroutine: recorded (first of its customer, journey and cause within the
// window), marked (its rescue marker written, whether or not it was the
// first) or skipped (Redis failed, or the queue was full).
type OrphanReport struct {
	Recorded func()
	Marked   func()
	Skipped  func(reason string)
}

// Skip reasons of an orphan that could not be recorded; metric label values.
const (
	SkipDropped     = "dropped"     // the write queue was full or closed
	SkipUnavailable = "unavailable" // Redis failed
)

// Orphans records orphaned customers through a bounded queue, like the
// trail: recording never waits on Redis.
type Orphans struct {
	client redis.UniversalClient
	trail  *Trail
	opts   OrphanOptions
	queue  *queue[orphanJob]
}

type orphanJob struct {
	orphan     Orphan
	window     time.Duration // recorded once per customer, journey and cause in it
	sessionKey string        // for the trail's latest entry, or ""
	marker     *SessionMarker
	report     OrphanReport
}

// orphanList is the sorted set of recent orphans, scored by time.
const orphanList = "frontdoor:orphans"

// NewOrphans starts the orphan writer; trail receives an entry for each
// recorded orphan.
func NewOrphans(client redis.UniversalClient, trail *Trail, opts OrphanOptions, logger *zap.Logger) *Orphans {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 1000
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 7 * 24 * time.Hour
	}
	if opts.Queue <= 0 {
		opts.Queue = 1024
	}
	o := &Orphans{client: client, trail: trail, opts: opts}
	warn := logFailure(logger, "orphans: orphan not recorded",
		func(job orphanJob) zap.Field { return zap.String("request_id", job.orphan.RequestID) })
	o.queue = newQueue(opts.Queue, o.write, func(job orphanJob, err error) {
		warn(job, err)
		if job.report.Skipped != nil {
			job.report.Skipped(SkipUnavailable)
		}
	})
	return o
}

// orphanKey names an orphan once per customer, journey, backend and cause:
// with no backend in it, a backend's orphan within the window of another's
// (the rescue backend's, which writes no rescue marker) was taken for the
// first, uncounted and unrescued.
func orphanKey(o Orphan) string {
	return "frontdoor:orphaned:" + o.Journey + ":" + o.Backend + ":" + o.Cause + ":" + o.CustomerID
}

// Record queues an orphan without blocking. It is recorded once per
// customer, journey, backend and cause within window; marker, if not nil,
// is written every time, while the session exists. A dropped orphan is
// reported skipped at once.
func (o *Orphans) Record(orphan Orphan, window time.Duration, sessionKey string, marker *SessionMarker, report OrphanReport) {
	orphan.Vendor = CleanText(orphan.Vendor)
	if !o.queue.add(orphanJob{orphan: orphan, window: window, sessionKey: sessionKey, marker: marker, report: report}) &&
		report.Skipped != nil {
		report.Skipped(SkipDropped)
	}
}

func (o *Orphans) write(job orphanJob) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	orphan := job.orphan
	first, err := o.client.SetNX(ctx, orphanKey(orphan), orphan.RequestID, job.window).Result()
	if err != nil {
		return fmt.Errorf("marking orphan: %w", err)
	}
	if !first {
		// Already listed and counted in the window. The rescue marker is
		// per session, the key per customer: a session the customer was
		// dropped in since (another device) must be rescued too.
		if m := job.marker; m != nil {
			marked, err := o.markAgain(ctx, m)
			if err != nil {
				return fmt.Errorf("marking the session for rescue: %w", err)
			}
			if marked && job.report.Marked != nil {
				job.report.Marked()
			}
		}
		return nil
	}
	raw, err := json.Marshal(orphan)
	if err != nil {
		return err
	}
	oldest := orphan.Time.Add(-o.opts.MaxAge).UnixMilli()
	_, err = o.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, orphanList, redis.Z{Score: float64(orphan.Time.UnixMilli()), Member: raw})
		p.ZRemRangeByScore(ctx, orphanList, "-inf", fmt.Sprintf("(%d", oldest))
		p.ZRemRangeByRank(ctx, orphanList, 0, -o.opts.MaxEntries-1)
		p.PExpire(ctx, orphanList, o.opts.MaxAge)
		if m := job.marker; m != nil {
			setSessionField(ctx, p, m.Key, m.Field, m.Value)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing orphan: %w", err)
	}
	if job.report.Recorded != nil {
		job.report.Recorded()
	}
	if job.marker != nil && job.report.Marked != nil {
		job.report.Marked()
	}
	if o.trail != nil {
		o.trail.Record(orphan.CustomerID, job.sessionKey, Entry{Time: orphan.Time, Journey: orphan.Journey,
			Backend: orphan.Backend, Owner: orphan.Owner, RequestID: orphan.RequestID, Note: "orphaned: " + orphan.Cause})
	}
	return nil
}

// markAgain writes the rescue marker of an orphan already recorded, unless
// the session holds a live one, and reports whether the session now has
// one.
func (o *Orphans) markAgain(ctx context.Context, m *SessionMarker) (bool, error) {
	if m.Live != nil {
		current, err := o.client.HGet(ctx, m.Key, m.Field).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return false, err
		}
		if err == nil && m.Live(current) {
			return true, nil
		}
	}
	return SetSessionField(ctx, o.client, m.Key, m.Field, m.Value)
}

// Stats returns how many orphans were written, dropped and failed.
func (o *Orphans) Stats() (written, dropped, failed uint64) { return o.queue.stats() }

// Close stops accepting orphans and writes those already queued.
func (o *Orphans) Close() { o.queue.close() }

// ReadOrphans returns up to n recent orphans, newest first, none older
// than maxAge.
func ReadOrphans(ctx context.Context, client redis.UniversalClient, n int64, maxAge time.Duration) ([]Orphan, error) {
	if maxAge <= 0 {
		maxAge = 7 * 24 * time.Hour
	}
	min := fmt.Sprint(time.Now().Add(-maxAge).UnixMilli())
	raws, err := client.ZRevRangeByScore(ctx, orphanList, &redis.ZRangeBy{Min: min, Max: "+inf", Count: n}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("reading orphans: %w", err)
	}
	out := make([]Orphan, 0, len(raws))
	for _, raw := range raws {
		var o Orphan
		if json.Unmarshal([]byte(raw), &o) == nil {
			out = append(out, o)
		}
	}
	return out, nil
}
