package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
	"github.com/frontdoor-dev/frontdoor/internal/session"
	"github.com/frontdoor-dev/frontdoor/internal/testwait"
)

func waitUntil(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	testwait.For(t, timeout, 20*time.Millisecond, cond)
}

// commandCounter counts the commands of one name a client sends, or
// tries to send to a Redis that is down.
type commandCounter struct {
	name string
	n    atomic.Int64
}

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == c.name {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// observed returns a logger whose lines the test reads, and a wait for
// the nth line with a message (a failed resync, say: the event a test
// needs), for at most timeout.
func observed(t *testing.T) (*zap.Logger, func(timeout time.Duration, message string, n int)) {
	core, logs := observer.New(zapcore.DebugLevel)
	return zap.New(core), func(timeout time.Duration, message string, n int) {
		t.Helper()
		waitUntil(t, timeout, func() error {
			if got := logs.FilterMessage(message).Len(); got < n {
				return fmt.Errorf("logged %q %d times, want %d", message, got, n)
			}
			return nil
		})
	}
}

func TestLocalBoard(t *testing.T) {
	b := NewBoard(nil, zap.NewNop())
	defer b.Close()
	now := time.Now()
	if _, err := b.Set(context.Background(), Override{Journey: "support", Backend: "care", ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if o, ok := b.Get("support", now); !ok || o.Backend != "care" {
		t.Errorf("Get = %v %v", o, ok)
	}
	if _, ok := b.Get("support", now.Add(2*time.Minute)); ok {
		t.Error("expired override still in force")
	}
	if _, ok := b.Get("checkout", now); ok {
		t.Error("override on another journey")
	}
	b.Clear(context.Background(), "support", "me")
	if _, ok := b.Get("support", now); ok {
		t.Error("cleared override still in force")
	}
}

func TestBoardsShareOverridesThroughRedis(t *testing.T) {
	rs := redistest.Start(t)
	a := NewBoard(rs.Client(t), zap.NewNop())
	logger, waitLogged := observed(t)
	b := NewBoard(rs.Client(t), logger)
	defer a.Close()
	defer b.Close()
	ctx := context.Background()
	o := Override{Journey: "support", Backend: "care", Reason: "outage", By: "ops", SetAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	start := time.Now()
	if _, err := a.Set(ctx, o); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 2*time.Second, func() error {
		if got, ok := b.Get("support", time.Now()); !ok || got.Backend != "care" || got.Reason != "outage" {
			return fmt.Errorf("other board: %v %v", got, ok)
		}
		return nil
	})
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("notification took %s; pub/sub should be near-instant", el)
	}

	// A change that bypasses pub/sub (a lost message) is picked up by the
	// periodic resync.
	rs.Client(t).HDel(ctx, overridesKey, "support")
	waitUntil(t, 3*ResyncInterval, func() error {
		if _, ok := b.Get("support", time.Now()); ok {
			return fmt.Errorf("stale override after a silent delete")
		}
		return nil
	})

	// While Redis is down the last known overrides stay in force.
	if _, err := a.Set(ctx, o); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 2*time.Second, func() error {
		if _, ok := b.Get("support", time.Now()); !ok {
			return fmt.Errorf("not propagated")
		}
		return nil
	})
	rs.Stop(t)
	waitLogged(3*time.Second, "overrides: redis unreachable, keeping the last known overrides", 1)
	if _, ok := b.Get("support", time.Now()); !ok {
		t.Error("override forgotten while Redis is down")
	}
	if pending, err := a.Set(ctx, o); err != nil || !pending {
		t.Errorf("Set with Redis down: pending %v, err %v; want pending", pending, err)
	}

}

func TestAuditRecordsWhoAndWhy(t *testing.T) {
	rs := redistest.Start(t)
	a := NewBoard(rs.Client(t), zap.NewNop())
	defer a.Close()
	ctx := context.Background()
	a.Set(ctx, Override{Journey: "support", Backend: "care", Reason: "outage", By: "ops@10.0.0.1", SetAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
	a.Clear(ctx, "support", "ops@10.0.0.2")
	audit, err := a.Audit(ctx, 10)
	if err != nil || len(audit) != 2 {
		t.Fatalf("audit %v %v", audit, err)
	}
	if audit[0]["action"] != "clear" || audit[0]["by"] != "ops@10.0.0.2" || audit[1]["action"] != "set" || audit[1]["reason"] != "outage" || audit[1]["backend"] != "care" {
		t.Errorf("audit entries: %v", audit)
	}
}

func TestTrailWritesReadsAndBounds(t *testing.T) {
	rs := redistest.Start(t)
	client := rs.Client(t)
	client.HSet(context.Background(), "session:abc", "customer_id", "C-1") // the customer's session
	tr := NewTrail(client, TrailOptions{MaxEntries: 3, TTL: time.Hour}, zap.NewNop())
	for i := 0; i < 5; i++ {
		tr.Record("C-1", "session:abc", Entry{Time: time.Now(), Journey: "support", Backend: "nightdesk", Owner: "outsourced",
			Status: 200, RequestID: fmt.Sprint("R", i), Note: fmt.Sprint("note ", i)})
	}
	tr.Close() // writes what is queued
	entries, err := Read(context.Background(), client, "C-1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || entries[0].Note != "note 4" || entries[2].Note != "note 2" {
		t.Errorf("entries (newest first, capped at 3): %+v", entries)
	}
	if ttl := client.TTL(context.Background(), "frontdoor:trail:C-1").Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("trail ttl %s", ttl)
	}
	latest := client.HGet(context.Background(), "session:abc", SessionTrailField).Val()
	if latest == "" || !contains(latest, `"note":"note 4"`) {
		t.Errorf("latest entry in session hash: %q", latest)
	}
	if w, d, f := tr.Stats(); w != 5 || d != 0 || f != 0 {
		t.Errorf("stats written %d dropped %d failed %d", w, d, f)
	}
}

func TestTrailDropsWhenFullNeverBlocks(t *testing.T) {
	rs := redistest.Start(t)
	rs.Stop(t) // writes fail slowly (dial errors); the queue fills
	tr := NewTrail(rs.Client(t), TrailOptions{Queue: 4}, zap.NewNop())
	defer tr.Close()
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr.Record("C-1", "", Entry{Note: "x"})
		}()
	}
	wg.Wait()
	if el := time.Since(start); el > 200*time.Millisecond {
		t.Errorf("recording took %s: it must never wait for Redis", el)
	}
	if _, dropped, _ := tr.Stats(); dropped == 0 {
		t.Error("nothing dropped with a full queue")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestTrailRecordDuringClose: a config's in-flight requests may record a
// note while the trail of the Redis they used is closed by a reload.
// Recording then drops the entry; it must never panic.
func TestTrailRecordDuringClose(t *testing.T) {
	rs := redistest.Start(t)
	tr := NewTrail(rs.Client(t), TrailOptions{}, zap.NewNop())
	var wg sync.WaitGroup
	var recorded atomic.Int64
	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					tr.Record("C-1", "", Entry{Note: "x"})
					recorded.Add(1)
				}
			}
		})
	}
	atLeast := func(n int64) func() error {
		return func() error {
			if got := recorded.Load(); got < n {
				return fmt.Errorf("%d entries recorded, want %d", got, n)
			}
			return nil
		}
	}
	waitUntil(t, 5*time.Second, atLeast(100))
	tr.Close()
	waitUntil(t, 5*time.Second, atLeast(recorded.Load()+100)) // racing Close, then after it
	close(stop)
	wg.Wait()
	if tr.Record("C-1", "", Entry{Note: "after"}) {
		t.Error("an entry was accepted after Close")
	}
}

// TestOverrideSetWhileRedisIsDown: an override set while Redis is down
// applies on that instance at once, reaches Redis (and so the fleet) when
// Redis is back, and never replaces an override set after it elsewhere.
func TestOverrideSetWhileRedisIsDown(t *testing.T) {
	rs := redistest.Start(t)
	aClient := rs.Client(t)
	resyncs := &commandCounter{name: "hgetall"}
	aClient.AddHook(resyncs)
	a := NewBoard(aClient, zap.NewNop())
	defer a.Close()
	b := NewBoard(rs.Client(t), zap.NewNop())
	defer b.Close()
	ctx := context.Background()
	rs.Stop(t)
	now := time.Now()
	pending, err := a.Set(ctx, Override{Journey: "support", Backend: "care", SetAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil || !pending {
		t.Fatalf("Set with Redis down: pending %v, err %v", pending, err)
	}
	if _, err := a.Set(ctx, Override{Journey: "tracking", Backend: "old", SetAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tried := resyncs.n.Load()
	waitUntil(t, 5*time.Second, func() error { // failed resyncs must not forget it
		if n := resyncs.n.Load() - tried; n < 2 {
			return fmt.Errorf("%d resyncs tried since the change", n)
		}
		return nil
	})
	if o, ok := a.Get("support", time.Now()); !ok || o.Backend != "care" {
		t.Fatalf("the override does not apply on the instance that took it: %v %v", o, ok)
	}
	rs.Restart(t)
	// Meanwhile another instance set a newer override for tracking.
	later := time.Now()
	if _, err := b.Set(ctx, Override{Journey: "tracking", Backend: "new", SetAt: later, ExpiresAt: later.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, func() error {
		if o, ok := b.Get("support", time.Now()); !ok || o.Backend != "care" {
			return fmt.Errorf("other instance sees %v %v", o, ok)
		}
		if a.Pending("support") {
			return fmt.Errorf("still pending")
		}
		return nil
	})
	for _, board := range []*Board{a, b} {
		if o, _ := board.Get("tracking", time.Now()); o.Backend != "new" {
			t.Errorf("the newer override was replaced by one set earlier while redis was down: %v", o)
		}
	}
}

// A backend's note and case are stored without control characters: an
// operator reading the trail gets text, not terminal commands.
func TestTrailStoresCleanText(t *testing.T) {
	rs := redistest.Start(t)
	client := rs.Client(t)
	tr := NewTrail(client, TrailOptions{}, zap.NewNop())
	tr.Record("C-1", "session:abc", Entry{Time: time.Now(), Journey: "support", Backend: "nightdesk", Owner: "outsourced",
		Status: 200, RequestID: "R1", Note: "\x1b[2Jrefund\tpromised \u202eevil", Case: "ND\x1b[31m-1"})
	tr.Close()
	entries, err := Read(context.Background(), client, "C-1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Note != "[2Jrefund promised evil" || entries[0].Case != "ND[31m-1" {
		t.Errorf("entries %+v", entries)
	}
}

// The session's copy of the latest entry is a context value like any
// other, which the gateway hands to backends only up to
// session.MaxValueLen: a long note (frontdoor keeps up to 1 KiB of it) is
// shortened there, never the reason the next agent gets no entry. The
// stream keeps it whole.
func TestTrailSessionCopyFitsAContextValue(t *testing.T) {
	rs := redistest.Start(t)
	client := rs.Client(t)
	ctx := context.Background()
	client.HSet(ctx, "session:abc", "customer_id", "C-1")
	tr := NewTrail(client, TrailOptions{}, zap.NewNop())
	note := strings.Repeat("refund <promised> & booked; ", 40)[:1000]
	kase := "CASE-2026-é-00042"
	tr.Record("C-1", "session:abc", Entry{Time: time.Now(), Journey: "support", Backend: "nightdesk", Owner: "outsourced",
		Status: 200, RequestID: "R1", Note: note, Case: kase})
	tr.Close()
	latest := client.HGet(ctx, "session:abc", SessionTrailField).Val()
	if len(latest) > session.MaxValueLen || !utf8.ValidString(latest) {
		t.Fatalf("session copy is %d bytes (valid UTF-8 %v), want at most %d", len(latest), utf8.ValidString(latest), session.MaxValueLen)
	}
	var e Entry
	if err := json.Unmarshal([]byte(latest), &e); err != nil {
		t.Fatalf("session copy %q: %v", latest, err)
	}
	if e.RequestID != "R1" || e.Case != kase || !strings.HasPrefix(note, e.Note) || len(e.Note) < 600 {
		t.Errorf("session copy: request %q, case %q, note %q", e.RequestID, e.Case, e.Note)
	}
	entries, err := Read(ctx, client, "C-1", 1)
	if err != nil || len(entries) != 1 || entries[0].Note != note || entries[0].Case != kase {
		t.Errorf("the stream's entry is not whole: %v %v", entries, err)
	}
}
