package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/fleet"
	"github.com/frontdoor-dev/frontdoor/internal/session"
	"github.com/frontdoor-dev/frontdoor/internal/shopper"
)

// Orphans. A known customer is orphaned on a journey when a backend drops
// them: it hung up their chat or event stream, they got a brand error page
// for its failure, or they came back with a repeat contact. Each is
// recorded once per customer, journey and cause (within the journey's
// rescue window), on the customer's trail, in frontdoor_orphans_total and
// in a list of recent orphans for the brand's team to call back; the
// rescue marker goes into every session the customer is dropped in. All of it
// is written off the request path; with Redis down an orphan is skipped and
// counted as skipped.

func init() {
	caddy.RegisterModule(orphansAPI{})
}

// orphanMetrics are process-wide, like the others, and registered in each
// config's registry. They hold what the brand does for a dropped customer:
// orphans, escalations to the brand's own team and the customer's own
// ratings.
type orphanMetrics struct {
	orphans     *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	escalations *prometheus.CounterVec
	ratings     *prometheus.CounterVec
}

// Rating label values: the customer's answer to "did this solve your
// problem?" and whether frontdoor knew who answered.
const (
	answerYes         = "yes"
	answerNo          = "no"
	customerKnown     = "known"
	customerAnonymous = "anonymous"
)

var sharedOrphanMetrics = sync.OnceValue(func() *orphanMetrics {
	return &orphanMetrics{
		orphans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "frontdoor", Name: "orphans_total",
			Help: "Known customers a backend dropped on a journey, once per customer, journey and cause (hung_up, error_page, repeat_contact) within the rescue window.",
		}, []string{"journey", "backend", "owner", "vendor", "cause"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "frontdoor", Name: "orphans_skipped_total",
			Help: "Orphans that could not be recorded: dropped (the write queue was full) or unavailable (Redis failed).",
		}, []string{"reason"}),
		escalations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "frontdoor", Name: "escalations_total",
			Help: "Customers who escalated from a backend's page to the brand's own team.",
		}, []string{"journey", "backend", "owner", "vendor"}),
		ratings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "frontdoor", Name: "ratings_total",
			Help: "Customers' answers to \"did this solve your problem?\" about a backend (answer yes or no; customer known or anonymous), once per customer, backend and window.",
		}, []string{"journey", "backend", "owner", "vendor", "answer", "customer"}),
	}
})

func registerOrphanMetrics(ctx caddy.Context) (*orphanMetrics, error) {
	m := sharedOrphanMetrics()
	if registry := ctx.GetMetricsRegistry(); registry != nil {
		for _, c := range []prometheus.Collector{m.orphans, m.skipped, m.escalations, m.ratings} {
			var already prometheus.AlreadyRegisteredError
			if err := registry.Register(c); err != nil && !errors.As(err, &already) {
				return nil, fmt.Errorf("frontdoor: registering orphan metrics: %w", err)
			}
		}
	}
	return m, nil
}

// exportAtZero exports the backend's orphan, escalation and rating series
// at zero from provision: they start rare, and increase() only sees the
// first event of a series that existed before it.
func (m *orphanMetrics) exportAtZero(journey string, b *config.Backend) {
	l := []string{journey, b.Name, string(b.Owner), b.Vendor}
	for _, cause := range []string{fleet.CauseHungUp, fleet.CauseErrorPage, fleet.CauseRepeatContact} {
		m.orphans.WithLabelValues(append(l[:4:4], cause)...)
	}
	m.escalations.WithLabelValues(l...)
	for _, answer := range []string{answerYes, answerNo} {
		for _, customer := range []string{customerKnown, customerAnonymous} {
			m.ratings.WithLabelValues(append(l[:4:4], answer, customer)...)
		}
	}
}

// orphaned records that the backend dropped the customer. The shopper's
// visits and anonymous visitors are no one's orphans.
func (h *Handler) orphaned(r *http.Request, j *journeyRoute, who fleet.Handler, cc *customerContext, cause, requestID string) {
	if shopper.VisitOf(r.Context()) != nil {
		return
	}
	customerID, _ := cc.ctx.Get(customerIDField)
	if customerID == "" {
		return
	}
	m := h.orphanMetrics
	if h.orphans == nil {
		m.skipped.WithLabelValues(fleet.SkipUnavailable).Inc()
		return
	}
	now := h.now()
	orphan := fleet.Orphan{Time: now, Journey: j.name, Backend: who.Backend, Owner: who.Owner, Vendor: who.Vendor,
		Cause: cause, CustomerID: customerID, RequestID: requestID}
	sessionKey := session.ExpandKey(h.sessionKey, cc.sessionID)
	marker := j.rescueMarker(sessionKey, orphan)
	store, sessionID := h.store, cc.sessionID
	h.orphans.Record(orphan, j.orphanWindow, sessionKey, marker, fleet.OrphanReport{
		Recorded: func() { m.orphans.WithLabelValues(j.name, who.Backend, who.Owner, who.Vendor, cause).Inc() },
		Marked: func() {
			if store != nil {
				// This instance's next lookup must see the rescue
				// marker, whatever its cache (as after an escalation).
				store.Forget(j.fields, sessionID)
			}
		},
		Skipped: func(reason string) { m.skipped.WithLabelValues(reason).Inc() },
	})
}

// requestIDOf returns the reference of the request frontdoor is serving.
func requestIDOf(r *http.Request) string {
	id, _ := caddyhttp.GetVar(r.Context(), "frontdoor.request_id").(string)
	return id
}

// orphansAPI serves GET /frontdoor/orphans on Caddy's admin endpoint: the
// recent orphans, newest first, for callbacks.
type orphansAPI struct{}

// CaddyModule returns the Caddy module information.
func (orphansAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "admin.api.frontdoor_orphans", New: func() caddy.Module { return new(orphansAPI) }}
}

// Routes returns the admin routes.
func (a orphansAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/frontdoor/orphans", Handler: caddy.AdminHandlerFunc(a.list)}}
}

// maxOrphansListed bounds one answer of the orphans route.
const maxOrphansListed = 1000

func (orphansAPI) list(w http.ResponseWriter, r *http.Request) error {
	if err := onlyGET(r); err != nil {
		return err
	}
	n := int64(100)
	if s := r.URL.Query().Get("limit"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 1 || v > maxOrphansListed {
			return apiError(http.StatusBadRequest, "limit must be a number from 1 to %d", maxOrphansListed)
		}
		n = v
	}
	orphans, err := readOrphans(r.Context(), currentHandlers(), n)
	switch {
	case errors.Is(err, errNoRedis):
		return apiError(http.StatusNotFound, "%v", errors.New("no session store configured: orphans need session { redis ... }"))
	case err != nil:
		return apiError(http.StatusBadGateway, "%v", err)
	}
	return writeJSON(w, http.StatusOK, struct {
		Orphans []fleet.Orphan `json:"orphans"`
	}{orphans})
}

// readOrphans reads the n most recent orphans of every Redis the
// handlers' sites use, newest first.
func readOrphans(ctx context.Context, handlers []*Handler, n int64) ([]fleet.Orphan, error) {
	return readEverySite(handlers, int(n),
		func(c redis.UniversalClient) ([]fleet.Orphan, error) { return fleet.ReadOrphans(ctx, c, n, 0) },
		func(o fleet.Orphan) time.Time { return o.Time })
}

func orphansCommand() caddycmd.Command {
	return caddycmd.Command{
		Name:  "orphans",
		Usage: "[--limit N] [--address <admin>]",
		Short: "Lists customers a backend recently dropped, newest first, for callbacks",
		CobraFunc: func(cmd *cobra.Command) {
			addressFlag(cmd)
			cmd.Flags().Int("limit", 100, "how many orphans to list, at most 1000")
			cmd.Args = cobra.NoArgs
			cmd.RunE = func(cmd *cobra.Command, _ []string) error {
				limit, _ := cmd.Flags().GetInt("limit")
				body, err := adminRequest(cmd, http.MethodGet, "/frontdoor/orphans?limit="+strconv.Itoa(limit), nil)
				if err != nil {
					return err
				}
				var list struct {
					Orphans []fleet.Orphan `json:"orphans"`
				}
				if err := json.Unmarshal(body, &list); err != nil {
					return fmt.Errorf("decoding orphans: %w", err)
				}
				if len(list.Orphans) == 0 {
					fmt.Println("no orphaned customers")
					return nil
				}
				return printOrphans(os.Stdout, list.Orphans)
			}
		},
	}
}

// printOrphans prints orphans as a table.
func printOrphans(w io.Writer, orphans []fleet.Orphan) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tCUSTOMER\tJOURNEY\tBACKEND\tVENDOR\tCAUSE\tREFERENCE")
	for _, o := range orphans {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Time.Local().Format(time.DateTime), printable(o.CustomerID),
			printable(o.Journey), printable(o.Backend), dash(printable(o.Vendor)), printable(o.Cause), printable(o.RequestID))
	}
	return tw.Flush()
}

// Interface guards
var _ caddy.AdminRouter = orphansAPI{}
