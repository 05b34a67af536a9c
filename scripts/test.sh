#!/usr/bin/env bash
# The whole test suite: vet, unit tests with the race detector, short fuzz
# runs, and the e2e tests that run the real frontdoor binary against real
# redis-server, backends, Prometheus and Chromium. scripts/deps.sh first
# installs what of those the machine lacks (as root or with passwordless sudo;
# otherwise it prints the command that does).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh

echo "== go vet"
go vet ./...

echo "== unit tests (race detector)"
go test -race -count=1 $(go list ./... | grep -v /e2e)

# tsc checks dashboards/frontdoor.json against the TypeScript types Grafana
# publishes for its dashboard schema and panel plugins (@grafana/schema of
# Grafana 13.2): an unknown property fails. The packages are installed once
# into a cache directory.
grafana_schema=13.2.3
echo "== dashboard against Grafana's schema (@grafana/schema $grafana_schema)"
schema_dir="${XDG_CACHE_HOME:-$HOME/.cache}/frontdoor/grafana-schema-$grafana_schema"
if [[ ! -d $schema_dir/node_modules/@grafana/schema ]]; then
	mkdir -p "$schema_dir"
	npm install --no-audit --no-fund --no-package-lock --silent --prefix "$schema_dir" \
		"@grafana/schema@$grafana_schema" typescript@5.9.3
fi
repo=$PWD
(cd "$schema_dir" && node "$repo/dashboards/schema/check.mjs" "$repo/dashboards/frontdoor.json")

echo "== fuzz (short runs)"
# Budgets are execution counts, not durations: a -fuzztime duration races
# the fuzz coordinator's own deadline in Go 1.26 (golang/go#75804) and fails
# a target that found nothing with "context deadline exceeded". Each count is
# about ten seconds on two cores; FUZZTIME (e.g. 2m or 500000x) overrides
# them all for a longer local run.
#
# Each package's test binary is built once, with fuzzing instrumentation
# (go test -c -fuzz), and runs each of its targets from the package's
# directory (its testdata/fuzz corpus) with go test's own fuzz cache: go test
# -fuzz would link it again for every target.
fuzzbin=$(mktemp -d)
trap 'rm -rf "$fuzzbin"' EXIT
fuzz() {
	local pkg=$1 target=$2 budget=$3 importpath bin
	importpath=$(go list "$pkg")
	bin=$fuzzbin/${importpath//\//_}.test
	[[ -x $bin ]] || go test -c -fuzz="^$target\$" -o "$bin" "$pkg"
	echo "fuzz $pkg $target ${FUZZTIME:-$budget}"
	(cd "$pkg" && "$bin" -test.run='^$' -test.fuzz="^$target\$" -test.fuzztime="${FUZZTIME:-$budget}" \
		-test.fuzzcachedir="$(go env GOCACHE)/fuzz/$importpath")
}
fuzz ./internal/banner/ FuzzInjector 100000x
fuzz ./internal/banner/ FuzzInjectorTree 20000x
fuzz ./internal/banner/ FuzzSkipAhead 200000x
fuzz ./internal/mimetype/ FuzzParse 100000x
fuzz ./internal/htmlcharset/ FuzzTranscoder 20000x
fuzz ./internal/assertion/ FuzzPayload 100000x
fuzz ./config/ FuzzHours 100000x
# The first caddymodule target builds Caddy with coverage instrumentation
# (minutes, once); the others reuse that binary.
fuzz ./caddymodule/ FuzzScrubReserved 8000x
fuzz ./caddymodule/ FuzzCookieFilter 8000x
fuzz ./caddymodule/ FuzzCookieJar 8000x
fuzz ./caddymodule/ FuzzRedirectTarget 8000x
fuzz ./caddymodule/ FuzzCaddyfile 10000x

echo "== e2e (real binary, redis-server, backends, prometheus, chromium)"
# Screenshots and other artifacts are kept under e2e/testdata/out. The tests
# that measure time or load run one at a time; then those that call
# t.Parallel(), which mostly wait (a key rotation's minutes, a race-detector
# build at low priority, browsers), run up to 4 at once (e2e/harness_test.go).
mkdir -p e2e/testdata/out
go test -count=1 -timeout 30m -parallel 4 -artifacts -outputdir "$PWD/e2e/testdata/out" ./e2e/...
