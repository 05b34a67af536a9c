#!/usr/bin/env bash
# Benchmark of frontdoor's cost on the request path, run by hand (not by CI):
#
#   e2e/bench/run.sh                        # 5 interleaved rounds × 10 s (about 8 minutes)
#   ROUNDS=3 DURATION=5s e2e/bench/run.sh   # shorter
#
# It builds the frontdoor binary once (or uses $FRONTDOOR_BINARY), starts a
# fast loopback backend (plain text and a 20 KB HTML page), a real
# redis-server and one frontdoor process per configuration, and measures
# each with wrk (-t2 -c64 by default), interleaved over the rounds:
#   a   the backend directly (the limit)
#   b   bare Caddy reverse_proxy (same binary, Caddy's default idle pool)
#   b512 bare Caddy reverse_proxy with frontdoor's idle pool (the baseline)
#   c   frontdoor: routing, brand headers, assertion, metrics, no session
#   d   c + Redis customer context, cached (cache 2s)
#   dr  d with one assertion reused per customer for 30s (assertion { reuse 30s })
#   e   c + Redis customer context, uncached (cache 0s)
#   f0  a 20 KB vendor page through frontdoor with banner off
#   f   the same page with the banner injected
# and prints a markdown table of medians with the issue's targets (PASS or
# MISS), the signature floor (one assertion signed on this machine against
# bare Caddy's CPU per request: the most c, d and e can reach), then a 5 s
# CPU profile of d under load with the top entries of frontdoor's own
# packages. Needs wrk and redis-server
# (apt-get install wrk redis-server). Everything stays on 127.0.0.1.
#
# Environment: ROUNDS (5), DURATION (10s), THREADS (2), CONNECTIONS (64),
# ONLY (comma-separated config keys), PROFILE (configs to profile, default d;
# empty: none),
# OUT (directory for logs, the profile
# and a copy of the report), FRONTDOOR_BINARY (skip the build).
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

"$OUT/bench" run -frontdoor "$bin" -out "$OUT" \
	-rounds "${ROUNDS:-5}" -duration "${DURATION:-10s}" \
	-threads "${THREADS:-2}" -connections "${CONNECTIONS:-64}" \
	${ONLY:+-only "$ONLY"} ${PROFILE+-profile="$PROFILE"} | tee "$OUT/report.md"
