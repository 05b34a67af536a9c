package shopper

import (
	"io"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/frontdoor-dev/frontdoor/config"
)

// Gateway is what the shopper needs of the gateway it shops: a way in,
// what is behind each journey, and where customers reach it.
type Gateway interface {
	// Serve answers r in process, as the gateway's server would, writing
	// the answer to w. r carries a *Visit in its context. An answer a
	// backend aborted is an error, not a panic.
	Serve(w http.ResponseWriter, r *http.Request) error
	// Backends lists the backends of the journey, in the order configured.
	Backends(journey string) []Backend
	// Site is the host customers reach the gateway by, with the port if
	// not the scheme's default, and whether it is served over TLS.
	Site() (host string, https bool)
}

// Backend is a backend of a journey as the shopper sees it.
type Backend struct {
	*config.Backend
	// Open reports whether the backend is open now by its hours.
	Open func() bool
	// Banner renders the brand banner the gateway puts into the backend's
	// HTML pages for a request reference; nil if it puts none.
	Banner func(reference string) ([]byte, error)
}

// Sink receives the runs this instance made: each run once, when it ended
// (a run cut short by Stop is not one).
type Sink interface {
	Ran(t *Target, run *Run)
}

// Config is what a Shopper runs with.
type Config struct {
	Gateway Gateway
	Sink    Sink
	// Redis coordinates the fleet: one instance shops each backend per
	// interval, and every instance knows the latest run. nil: this
	// instance shops alone.
	Redis redis.UniversalClient
	// SessionKey is the key template of the session hash (with {id}), and
	// SessionCookie the brand's session cookie: a probe with a customer
	// writes it there and sends the cookie. "" without a session store.
	SessionKey, SessionCookie string
	// Decode reads bodies in the content codings the gateway passes on
	// (backends without the banner get the customer's Accept-Encoding).
	// nil: bodies are checked as they come.
	Decode Decoder
	// Instance names this instance in the runs it makes.
	Instance string
	// Clock schedules the runs. Default: the wall clock.
	Clock  Clock
	Logger *zap.Logger
}

// Decoder returns a reader of body decoded from the Content-Encoding
// value, and a function that releases what it holds; a nil reader (and
// error) if it does not decode that coding, and the body is checked as it
// comes.
type Decoder func(contentEncoding string, body io.Reader) (io.Reader, func(), error)

// Names of the shopper's Redis keys.
const (
	lockPrefix   = "frontdoor:probe:"
	resultPrefix = "frontdoor:probe-result:"
)

// Run results; the result label values of frontdoor_probe_runs_total.
const (
	ResultPass = "pass"
	ResultFail = "fail"
)

// Run is the outcome of one probe run against one backend, as the status
// endpoint shows it.
type Run struct {
	Probe    string    `json:"probe"`
	Time     time.Time `json:"time"`
	Result   string    `json:"result"` // pass or fail
	Open     bool      `json:"open"`   // the backend was open by its hours
	Duration float64   `json:"duration_seconds"`
	// Failed are the checks the failing step failed; the run stops there.
	Failed    []CheckFailure `json:"failed_checks,omitempty"`
	Step      string         `json:"step,omitempty"`       // the failing step, e.g. "GET /support/help"
	Status    int            `json:"status,omitempty"`     // the failing step's status
	RequestID string         `json:"request_id,omitempty"` // its X-Request-Id, as the backend got it
	RanBy     string         `json:"ran_by,omitempty"`     // the instance that ran it
}

// CheckFailure is one failed check of a step.
type CheckFailure struct {
	Check  string `json:"check"`
	Detail string `json:"detail"`
}
