package caddymodule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/frontdoor-dev/frontdoor/config"
)

// One journey name, one journey, in the whole config.
//
// Overrides (PUT /frontdoor/overrides/{journey}, fleet-wide through Redis),
// the status view and the metrics' journey label go by the journey's name
// alone. Two frontdoor handlers (two sites, or two handle blocks) that
// each defined a journey of one name differently would have an override
// set for one move the other, and the status view show one of them. A
// config may therefore define a journey name in several handlers only with
// the same definition: the same journey served in several places, as when
// one site block is served on two addresses (Caddy gives each server a
// copy of the handler) or a snippet is imported into two sites. Anything
// else is refused when the Caddyfile is adapted (naming both lines) and,
// for a JSON config, when the handlers are provisioned.

// journeyDefinition is what identifies a journey's definition: its JSON,
// which Caddy's config holds as it is compared here (the Caddyfile adapter
// writes the same JSON for the same lines).
func journeyDefinition(j *config.Journey) []byte {
	def, err := json.Marshal(j)
	if err != nil {
		// Not comparable: unlike any other definition. Unmarshalled
		// from JSON, a journey marshals again.
		return []byte(fmt.Sprintf("unmarshallable %p", j))
	}
	return def
}

// journeyDefinitions are the definitions of a handler's journeys by name,
// taken before provisioning fills in the reverse proxies' defaults.
func journeyDefinitions(journeys []*config.Journey) map[string][]byte {
	defs := make(map[string][]byte, len(journeys))
	for _, j := range journeys {
		defs[j.Name] = journeyDefinition(j)
	}
	return defs
}

// journeyDifference names the parts of two definitions of a journey that
// differ (paths, backends, ...), for the error that refuses them.
func journeyDifference(a, b []byte) string {
	var ma, mb map[string]json.RawMessage
	if json.Unmarshal(a, &ma) != nil || json.Unmarshal(b, &mb) != nil {
		return "their definitions"
	}
	var differ []string
	for _, k := range slices.Sorted(maps.Keys(ma)) {
		if !bytes.Equal(ma[k], mb[k]) {
			differ = append(differ, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(mb)) {
		if _, ok := ma[k]; !ok {
			differ = append(differ, k)
		}
	}
	if len(differ) == 0 {
		return "their definitions"
	}
	return strings.Join(differ, ", ")
}

// journeyNamesKey keeps, in the Caddyfile adapter's state (one map for
// the whole Caddyfile), where each journey name was first defined.
const journeyNamesKey = "frontdoor.journeys"

// journeyAt is a journey as first written in the Caddyfile.
type journeyAt struct {
	def []byte
	at  caddyfile.Token
}

// claimJourneyNames records the journeys of one frontdoor directive in
// the adapter's state, refusing a name another directive defined
// differently. positions are where the directive's journeys were written.
func claimJourneyNames(state map[string]any, journeys []*config.Journey, positions map[any]caddyfile.Token) error {
	claimed, _ := state[journeyNamesKey].(map[string]journeyAt)
	if claimed == nil {
		claimed = map[string]journeyAt{}
		state[journeyNamesKey] = claimed
	}
	for _, j := range journeys {
		def, at := journeyDefinition(j), positions[j]
		first, taken := claimed[j.Name]
		if !taken {
			claimed[j.Name] = journeyAt{def: def, at: at}
			continue
		}
		if !bytes.Equal(first.def, def) {
			return errAt(at, fmt.Errorf("journey %q is defined differently in another frontdoor handler, at %s:%d (they differ in %s): "+
				"overrides and the status view go by journey name, so one name must mean one journey in the whole config; "+
				"rename one, or write both the same", j.Name, first.at.File, first.at.Line, journeyDifference(first.def, def)))
		}
	}
	return nil
}

// checkJourneyNames refuses a handler that defines a journey the app's
// other handlers define differently under the same name: the check of
// claimJourneyNames for JSON configs, which name no line.
func (a *App) checkJourneyNames(h *Handler) error {
	for _, other := range a.Handlers() {
		for _, j := range h.Journeys {
			def, theirs := h.journeyDefs[j.Name], other.journeyDefs[j.Name]
			if theirs == nil || bytes.Equal(def, theirs) {
				continue
			}
			return fmt.Errorf("journey %q (paths %s) is defined differently by another frontdoor handler of this config (brand %q; they differ in %s): "+
				"overrides and the status view go by journey name, so one name must mean one journey in the whole config; rename one, or define both the same",
				j.Name, strings.Join(j.Paths, " "), other.Brand, journeyDifference(theirs, def))
		}
	}
	return nil
}
