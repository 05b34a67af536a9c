#!/usr/bin/env bash
# Benchmark of frontdoor's cost on the request path, run by hand (not by CI):
#
#   e2e/bench/run.sh                        # 5 interleaved rounds × 10 s (about 12 minutes)
#   ROUNDS=3 DURATION=5s e2e/bench/run.sh   # shorter (about 4 minutes)
#
# It builds the frontdoor binary once (or uses $FRONTDOOR_BINARY), starts a
# fast loopback backend (plain text and a 20 KB HTML page), a real
# redis-server with one customer's session and 10,000 more, and one
# frontdoor process per configuration, and measures each with wrk (-t2
# -c64 by default), interleaved over the rounds. frontdoor runs with its
# defaults (an ES256 assertion key made at start, one assertion reused per
# customer for 30s, context cached until Redis reports a change (tracking
# on this standalone Redis), the vendor's context in the assertion only,
# metrics on) unless said otherwise:
#   b    stock Caddy reverse_proxy (same binary, Caddy's default idle pool)
#   b512 bare Caddy reverse_proxy with frontdoor's idle pool (the baseline)
#        b, b512 and bh are sent the request d's customer sends, cookies
#        included: a customer's browser sends the brand's cookies whatever
#        serves the brand's domain, and bare Caddy passes them on
#   bm   b512 under m's wrk script: making each request in Lua costs wrk
#        CPU on the gateway's cores, so m and e are compared with this
#   bh   b512 adding, with header_up, the request headers frontdoor adds
#        to d's requests (same values): what those headers cost by
#        themselves
#   c    frontdoor without a session: routing, brand headers, reused
#        assertion, metrics, banner off (plain-text replies)
#   d    the defaults: c + Redis customer context, one customer
#   dl   d with Caddy's default log excluding http.handlers.reverse_proxy,
#        whose debug logger encodes every request's headers even when
#        debug is off
#   dh   d with headers all: plain context headers besides the assertion
#        (the vendor default before issue 25)
#   d0   d with assertion { reuse 0s }: one signature per request
#   m    the defaults, many customers: a wrk Lua script sends each request
#        with the session cookie of one of the 10,000, picked at random;
#        before each round (of m, mc, m0, e and bm) every one of them
#        sends one request, so that a round measures active customers
#        coming back (each does every two seconds at m's rate) and not the
#        cold start the interleaving would otherwise make of every round
#   mc   m while 1% of the sessions are rewritten each second (a new tier):
#        one change in ten is probed as that customer until the backend
#        sees it, and the staleness (p50, p99, max) is reported
#   m0   m with reuse 0s
#   e    m with the context uncached (cache 0s): a Redis round trip per
#        request (with one customer, concurrent lookups would share one)
#   f0   a 20 KB vendor page through frontdoor with banner off
#   f    the same page with the banner injected (the default)
# and, named in ONLY only: a (the backend directly, the limit), bt (b512
# with the transport bounds frontdoor's defaults set) and dg (dl
# with GOGC=400). It prints a markdown table of medians with the targets
# (PASS or MISS: d ≥ 0.90× b512 with p99 within 1 ms; m and mc ≥ 0.85× bm,
# e ≥ 0.80× bm; mc's changes seen within 100 ms (p99); f ≥ 0.90× f0;
# beyond, d ≥ 1.0× b), each target's ratio round by round and by CPU per
# request (they inform on a noisy host; the verdicts stay on the medians),
# the signature floor (one assertion
# signed on this machine against bare Caddy's CPU per request: the most d0
# and m0 can reach), then a CPU profile (5 s) of b512, d and m under load
# with their top entries. Needs wrk and redis-server (apt-get install wrk
# redis-server). Everything stays on 127.0.0.1.
#
# Environment: ROUNDS (5), DURATION (10s), THREADS (2), CONNECTIONS (64),
# ONLY (comma-separated config keys), PROFILE (configs to profile, default
# b512,d,m; empty: none), PROFILE_SECONDS (each profile's length, 5), OUT
# (directory for logs, the profiles, the wrk script and a copy of the
# report), FRONTDOOR_BINARY (skip the build), PIN (0 by default; 1 runs
# each gateway on the first half of the CPUs and wrk, the backend and
# redis-server on the rest, with taskset, so that a gateway has its cores
# to itself as on an edge host instead of taking turns with its load
# generator; the gateway's Go runtime then sizes GOMAXPROCS to its half,
# a different regime, so its figures compare with PIN=1 runs only). The
# report says where each ran and how busy each gateway kept its CPUs.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
for tool in wrk redis-server; do
	command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "installing ${missing[*]}" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; }
	else
		echo "missing: ${missing[*]} (Debian: sudo apt-get install ${missing[*]})" >&2
		exit 1
	fi
fi

. e2e/bench/lib.sh
build_tools bench

# taskset -c lists of the gateways' CPUs and the rest (empty: unpinned),
# halves of the CPUs this shell may run on.
gateway_cpus= load_cpus=
if [[ ${PIN:-0} != 0 ]] && command -v taskset >/dev/null; then
	allowed=()
	IFS=, read -ra parts <<<"$(awk '/^Cpus_allowed_list:/ {print $2}' /proc/self/status)"
	for part in "${parts[@]}"; do
		for ((cpu = ${part%-*}; cpu <= ${part#*-}; cpu++)); do allowed+=("$cpu"); done
	done
	if ((${#allowed[@]} >= 2)); then
		half=$((${#allowed[@]} / 2))
		gateway_cpus=$(IFS=,; echo "${allowed[*]:0:half}")
		load_cpus=$(IFS=,; echo "${allowed[*]:half}")
	fi
fi

${load_cpus:+taskset -c "$load_cpus"} "$OUT/bench" run -frontdoor "$bin" -out "$OUT" \
	${gateway_cpus:+-gateway-cpus "$gateway_cpus"} \
	-rounds "${ROUNDS:-5}" -duration "${DURATION:-10s}" \
	-threads "${THREADS:-2}" -connections "${CONNECTIONS:-64}" \
	${ONLY:+-only "$ONLY"} ${PROFILE+-profile="$PROFILE"} ${PROFILE_SECONDS:+-profile-seconds "${PROFILE_SECONDS}s"} | tee "$OUT/report.md"
