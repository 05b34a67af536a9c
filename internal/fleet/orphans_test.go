package fleet

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

func TestOrphansRecordedOncePerCustomerJourneyAndCause(t *testing.T) {
	rs := redistest.Start(t)
	client := rs.Client(t)
	trail := NewTrail(client, TrailOptions{}, zap.NewNop())
	o := NewOrphans(client, trail, OrphanOptions{MaxEntries: 3}, zap.NewNop())
	var recorded, skipped atomic.Int64
	report := OrphanReport{Recorded: func() { recorded.Add(1) }, Skipped: func(string) { skipped.Add(1) }}
	now := time.Now()
	client.HSet(context.Background(), "session:C1", "customer_id", "C1") // the customer's session
	rec := func(customer, cause, ref string, at time.Time) {
		o.Record(Orphan{Time: at, Journey: "support", Backend: "nightdesk", Owner: "outsourced", Vendor: "NightDesk",
			Cause: cause, CustomerID: customer, RequestID: ref}, time.Hour, "session:"+customer,
			&SessionMarker{Key: "session:" + customer, Field: "frontdoor_rescue:support", Value: ref}, report)
	}
	rec("C1", CauseHungUp, "r1", now)
	rec("C1", CauseHungUp, "r2", now.Add(time.Millisecond))      // same cause: not again
	rec("C1", CauseErrorPage, "r3", now.Add(2*time.Millisecond)) // another cause
	for i := range 4 {
		rec(fmt.Sprintf("C%d", i+2), CauseHungUp, fmt.Sprintf("x%d", i), now.Add(time.Duration(3+i)*time.Millisecond))
	}
	o.Close()
	trail.Close()
	if recorded.Load() != 6 || skipped.Load() != 0 {
		t.Fatalf("recorded %d skipped %d, want 6 and 0", recorded.Load(), skipped.Load())
	}
	list, err := ReadOrphans(context.Background(), client, 10, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, e := range list {
		refs = append(refs, e.RequestID)
	}
	if fmt.Sprint(refs) != "[x3 x2 x1]" {
		t.Errorf("list = %v, want the 3 newest first", refs)
	}
	if v, _ := client.HGet(context.Background(), "session:C1", "frontdoor_rescue:support").Result(); v != "r3" {
		t.Errorf("session marker = %q, want r3", v)
	}
	entries, err := Read(context.Background(), client, "C1", 10)
	if err != nil || len(entries) != 2 || entries[0].RequestID != "r3" || entries[0].Note != "orphaned: error_page" {
		t.Errorf("trail = %+v %v", entries, err)
	}
}

// TestOrphanOfAnotherBackendIsRecorded: the rescue backend itself failed
// a customer (an orphan of its own, with no rescue marker: it is where the
// customer would be sent), then a vendor did, within the window. The once
// per window key named no backend, so the vendor's orphan was taken for
// the first: not counted, and no marker written, so the customer the
// vendor dropped was never rescued.
func TestOrphanOfAnotherBackendIsRecorded(t *testing.T) {
	rs := redistest.Start(t)
	client := rs.Client(t)
	o := NewOrphans(client, nil, OrphanOptions{}, zap.NewNop())
	var recorded atomic.Int64
	report := OrphanReport{Recorded: func() { recorded.Add(1) }}
	now := time.Now()
	client.HSet(context.Background(), "session:C1", "customer_id", "C1") // the customer's session
	o.Record(Orphan{Time: now, Journey: "support", Backend: "care-team", Owner: "in-house", Cause: CauseErrorPage,
		CustomerID: "C1", RequestID: "r1"}, time.Hour, "session:C1", nil, report)
	o.Record(Orphan{Time: now.Add(time.Millisecond), Journey: "support", Backend: "nightdesk", Owner: "outsourced", Vendor: "NightDesk",
		Cause: CauseErrorPage, CustomerID: "C1", RequestID: "r2"}, time.Hour, "session:C1",
		&SessionMarker{Key: "session:C1", Field: "frontdoor_rescue:support", Value: "r2"}, report)
	o.Close()
	if recorded.Load() != 2 {
		t.Errorf("recorded %d orphans, want the care team's and the vendor's", recorded.Load())
	}
	if marker, _ := client.HGet(context.Background(), "session:C1", "frontdoor_rescue:support").Result(); marker != "r2" {
		t.Errorf("rescue marker %q, want the vendor's orphan's", marker)
	}
}

// TestOrphanMarksEverySessionOnce: the customer, recorded once, is dropped
// again in another session within the window: listed and counted once,
// but that session gets its rescue marker too. Dropped again in a session
// being rescued, its live marker stays (the first drop's reference and
// window).
func TestOrphanMarksEverySessionOnce(t *testing.T) {
	rs := redistest.Start(t)
	client := rs.Client(t)
	ctx := context.Background()
	o := NewOrphans(client, nil, OrphanOptions{}, zap.NewNop())
	var recorded, marked atomic.Int64
	report := OrphanReport{Recorded: func() { recorded.Add(1) }, Marked: func() { marked.Add(1) }}
	for _, s := range []string{"session:phone", "session:laptop"} {
		client.HSet(ctx, s, "customer_id", "C1")
	}
	now := time.Now()
	rec := func(session, ref string) {
		o.Record(Orphan{Time: now, Journey: "support", Backend: "nightdesk", Owner: "outsourced", Cause: CauseErrorPage,
			CustomerID: "C1", RequestID: ref}, time.Hour, session,
			&SessionMarker{Key: session, Field: "frontdoor_rescue:support", Value: ref, Live: func(v string) bool { return v != "" }}, report)
	}
	rec("session:phone", "r1")
	rec("session:laptop", "r2")
	rec("session:phone", "r3")
	o.Close()
	if recorded.Load() != 1 || marked.Load() != 3 {
		t.Errorf("recorded %d, marked %d; want 1 and 3", recorded.Load(), marked.Load())
	}
	for session, want := range map[string]string{"session:phone": "r1", "session:laptop": "r2"} {
		if got := client.HGet(ctx, session, "frontdoor_rescue:support").Val(); got != want {
			t.Errorf("%s rescue marker %q, want %q", session, got, want)
		}
	}
}

// TestSessionFieldsNeverMakeASession: the brand logged the customer out
// (deleted the session hash) between the request and frontdoor's write of
// the rescue marker and the trail's last entry: the HSETs made the hash
// again, with no expiry and only frontdoor's fields, a session that never
// ended and that lookups found. A session that exists gets the fields and
// keeps its expiry.
func TestSessionFieldsNeverMakeASession(t *testing.T) {
	rs := redistest.Start(t)
	client := rs.Client(t)
	ctx := context.Background()
	if err := client.HSet(ctx, "session:live", "customer_id", "C2").Err(); err != nil {
		t.Fatal(err)
	}
	client.Expire(ctx, "session:live", time.Hour)
	trail := NewTrail(client, TrailOptions{}, zap.NewNop())
	o := NewOrphans(client, trail, OrphanOptions{}, zap.NewNop())
	now := time.Now()
	for _, customer := range []string{"gone", "live"} {
		o.Record(Orphan{Time: now, Journey: "support", Backend: "nightdesk", Owner: "outsourced", Cause: CauseErrorPage,
			CustomerID: "C-" + customer, RequestID: "r-" + customer}, time.Hour, "session:"+customer,
			&SessionMarker{Key: "session:" + customer, Field: "frontdoor_rescue:support", Value: "r-" + customer}, OrphanReport{})
	}
	o.Close()
	trail.Close()
	if n := client.Exists(ctx, "session:gone").Val(); n != 0 {
		t.Errorf("the logged-out session exists again, with %v", client.HGetAll(ctx, "session:gone").Val())
	}
	fields := client.HGetAll(ctx, "session:live").Val()
	if fields["frontdoor_rescue:support"] != "r-live" || fields[SessionTrailField] == "" || client.TTL(ctx, "session:live").Val() <= 0 {
		t.Errorf("the live session: %v, TTL %v; want the marker, the trail field and its expiry", fields, client.TTL(ctx, "session:live").Val())
	}
	if wrote, err := SetSessionField(ctx, client, "session:gone", "f", "v"); wrote || err != nil || client.Exists(ctx, "session:gone").Val() != 0 {
		t.Errorf("SetSessionField on an ended session: wrote %v, %v", wrote, err)
	}
}

func TestOrphansWithRedisDownAreSkipped(t *testing.T) {
	rs := redistest.Start(t)
	client := rs.Client(t)
	rs.Stop(t)
	o := NewOrphans(client, nil, OrphanOptions{}, zap.NewNop())
	reasons := make(chan string, 1)
	start := time.Now()
	o.Record(Orphan{Time: time.Now(), Journey: "support", Cause: CauseHungUp, CustomerID: "C1"}, time.Hour, "", nil,
		OrphanReport{Skipped: func(r string) { reasons <- r }})
	if time.Since(start) > 50*time.Millisecond {
		t.Errorf("Record waited %v on a dead Redis", time.Since(start))
	}
	select {
	case r := <-reasons:
		if r != SkipUnavailable {
			t.Errorf("skipped as %q", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("orphan neither recorded nor skipped")
	}
	o.Close()
	o.Record(Orphan{Cause: CauseHungUp}, time.Hour, "", nil, OrphanReport{Skipped: func(r string) { reasons <- r }})
	if r := <-reasons; r != SkipDropped {
		t.Errorf("after Close skipped as %q", r)
	}
}
