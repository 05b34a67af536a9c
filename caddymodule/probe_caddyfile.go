package caddymodule

import (
	"fmt"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/frontdoor-dev/frontdoor/config"
)

// parseProbe reads a journey's probe block:
//
//	probe help-page {
//		every 1m
//		from 203.0.113.0/24
//		customer {
//			customer_id P-0001
//			first_name Quinn
//		}
//		step GET /support/help
//		expect status 200
//		expect customer first_name
//		forbid "(?i)nightdesk|powered by"
//		within 800ms
//	}
//
// The checks after a step apply to that step.
func (p *parser) parseProbe(d *caddyfile.Dispenser) (*config.Probe, error) {
	pr := &config.Probe{}
	p.positions[pr] = d.Token()
	if !d.NextArg() {
		return nil, d.Err("probe needs a name, e.g. probe help-page { step GET /support }")
	}
	pr.Name = d.Val()
	if d.NextArg() {
		return nil, d.Errf("probe %s: unexpected %q: write its steps and checks inside the block", pr.Name, d.Val())
	}
	var step *config.Step
	single := singleOptions{block: "probe " + pr.Name}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch opt {
		case "every":
			if err := single.once(d, opt); err != nil {
				return nil, err
			}
			var v string
			if !d.AllArgs(&v) {
				return nil, d.Err("every wants one duration, e.g. every 1m")
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return nil, d.Errf("probe %s: every %q: want a duration such as 1m", pr.Name, v)
			}
			pr.Every = config.Duration(dur)
		case "from":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.Err("from wants the addresses the shopper comes from, e.g. from 203.0.113.0/24 2001:db8:77::/48")
			}
			for _, a := range args {
				if _, err := config.ParseFrom(a); err != nil {
					return nil, d.Errf("probe %s: from %v", pr.Name, err)
				}
			}
			pr.From = append(pr.From, args...)
		case "customer":
			if d.NextArg() {
				return nil, d.Err("customer takes a block of FIELD VALUE lines, e.g. customer { first_name Quinn }")
			}
			if pr.Customer == nil {
				pr.Customer = map[string]string{}
			}
			for inner := d.Nesting(); d.NextBlock(inner); {
				field := d.Val()
				var v string
				if !d.AllArgs(&v) {
					return nil, d.Errf("customer %s: write one value, quoted if it has spaces, e.g. %s \"Quinn\"", field, field)
				}
				if _, dup := pr.Customer[field]; dup {
					return nil, d.Errf("customer field %s is set twice", field)
				}
				pr.Customer[field] = v
			}
		case "step":
			args := d.RemainingArgs()
			if !(len(args) == 2 || len(args) == 4 && args[2] == "body") {
				return nil, d.Err(`step wants METHOD PATH [body TEXT], e.g. step GET /support/help or step POST /support/chat body "message=hello"`)
			}
			step = &config.Step{Method: args[0], Path: args[1]}
			if len(args) == 4 {
				step.Body = args[3]
			}
			p.positions[step] = d.Token()
			pr.Steps = append(pr.Steps, step)
		case "expect", "forbid", "within":
			if step == nil {
				return nil, d.Errf("%s comes before any step: write step METHOD PATH first; the checks after a step apply to it", opt)
			}
			if err := parseCheck(d, opt, step); err != nil {
				return nil, err
			}
		default:
			return nil, d.Errf("unrecognized probe option %q: expected every, from, customer, step, expect, forbid or within", opt)
		}
	}
	return pr, nil
}

// parseCheck reads one check of a step: expect status|body|customer,
// forbid or within.
func parseCheck(d *caddyfile.Dispenser, opt string, step *config.Step) error {
	args := d.RemainingArgs()
	switch opt {
	case "forbid":
		if len(args) != 1 {
			return d.Err(`forbid wants one regular expression, quoted if it has spaces, e.g. forbid "(?i)nightdesk|powered by"`)
		}
		step.Forbid = append(step.Forbid, args[0])
	case "within":
		if len(args) != 1 {
			return d.Err("within wants one duration, e.g. within 800ms")
		}
		dur, err := caddy.ParseDuration(args[0])
		if err != nil || dur <= 0 {
			return d.Errf("within %q: want a duration such as 800ms", args[0])
		}
		step.Within = config.Duration(dur)
	case "expect":
		usage := "expect wants status CODE..., body REGEXP or customer FIELD..., e.g. expect status 200"
		if len(args) < 2 {
			return d.Err(usage)
		}
		switch args[0] {
		case "status":
			for _, a := range args[1:] {
				code, err := strconv.Atoi(a)
				if err != nil {
					return d.Errf("expect status %q: want status codes such as 200 or 302", a)
				}
				step.ExpectStatus = append(step.ExpectStatus, code)
			}
		case "body":
			if len(args) != 2 {
				return d.Err(`expect body wants one regular expression, quoted if it has spaces, e.g. expect body "How can we help"`)
			}
			step.ExpectBody = append(step.ExpectBody, args[1])
		case "customer":
			step.ExpectCustomer = append(step.ExpectCustomer, args[1:]...)
		default:
			return d.Errf("unknown expect %q: %s", args[0], usage)
		}
	}
	return nil
}

// checkProbeSessions refuses a probe customer without a session store to
// write it to.
func checkProbeSessions(h *Handler) error {
	if h.Session != nil {
		return nil
	}
	for _, j := range h.Journeys {
		for _, p := range j.Probes {
			if len(p.Customer) > 0 {
				return &config.Error{Elem: p, Msg: fmt.Sprintf(
					"journey %q, probe %q: a customer needs a session block: frontdoor writes the synthetic customer to the session store", j.Name, p.Name)}
			}
		}
	}
	return nil
}
