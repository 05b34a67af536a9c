#!/usr/bin/env bash
# Soak test, run by hand (not by CI):
#
#   e2e/bench/soak.sh                   # 10 minutes
#   SOAK_DURATION=90s e2e/bench/soak.sh # a quick check
#
# Mixed traffic (GETs that fail over, POSTs that must not, vendor HTML with
# the banner, gzip, in-house pages with the session cookie, a fail-closed
# checkout, clients that give up on a slow page) against one frontdoor
# process, while Redis and a vendor are stopped and started again every
# SOAK_FLAP (30s). Every 10 s it samples the gateway's RSS (/proc/PID/status)
# and goroutine count (admin /debug/pprof/goroutine?debug=1) into a CSV,
# prints min/max/first/last, and exits non-zero if, at the end of the load
# or once it has stopped, RSS is more than 1.5× or goroutines more than 2×
# the first minute's baseline (the highest sample of the first minute).
#
# Environment: SOAK_DURATION (600s), SOAK_FLAP (30s), SOAK_WORKERS (16),
# SOAK_PACE (5ms between two requests of a client), OUT (directory for the
# CSV and logs), FRONTDOOR_BINARY (skip the build). Needs redis-server.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v redis-server >/dev/null; then
	echo "missing: redis-server (Debian: sudo apt-get install redis-server)" >&2
	exit 1
fi
. e2e/bench/lib.sh
build_tools soak

"$OUT/bench" soak -frontdoor "$bin" -out "$OUT" \
	-duration "${SOAK_DURATION:-600s}" -flap "${SOAK_FLAP:-30s}" \
	-workers "${SOAK_WORKERS:-16}" -pace "${SOAK_PACE:-5ms}"
