# Shared by run.sh and soak.sh (sourced, from the repository root).

# build_tools sets OUT (a fresh temporary directory unless given) and bin
# (the frontdoor binary: $FRONTDOOR_BINARY, or one built into OUT), and
# builds the bench driver into OUT.
build_tools() {
	OUT=${OUT:-$(mktemp -d "/tmp/frontdoor-$1.XXXXXX")}
	mkdir -p "$OUT"
	if [[ -n ${FRONTDOOR_BINARY:-} ]]; then
		bin=$FRONTDOOR_BINARY
	else
		echo "building frontdoor..." >&2
		go build -o "$OUT/frontdoor" ./cmd/frontdoor
		bin=$OUT/frontdoor
	fi
	go build -o "$OUT/bench" ./e2e/bench
}
