#!/usr/bin/env bash
# Installs the programs the test suite runs and the machine lacks:
# redis-server and redis-cli, prometheus and promtool, chromium, node and npm,
# and PyJWT with cryptography (a vendor's verifier in the e2e) for python3.
# As root, or with sudo that needs no password, it installs them with
# apt-get (Debian); otherwise it prints the one command that does and exits 1.
# scripts/test.sh runs it first.
set -euo pipefail

# Each tool and the Debian (bookworm) package that provides it.
tools=(redis-server redis-cli prometheus promtool chromium node npm pyjwt)
declare -A package=(
	[redis-server]=redis-server
	[redis-cli]=redis-tools
	[prometheus]=prometheus
	[promtool]=prometheus
	[chromium]=chromium
	[node]=nodejs
	[npm]=npm
	[pyjwt]="python3-jwt python3-cryptography"
)

# have says whether a tool is there; pyjwt is a Python module, not a
# command: the e2e looks for it in the python3 on PATH, then in Debian's
# (FRONTDOOR_PYTHONS lists others to look in).
have() {
	if [[ $1 == pyjwt ]]; then
		local py
		for py in ${FRONTDOOR_PYTHONS:-python3 /usr/bin/python3}; do
			"$py" -c 'import jwt, cryptography' 2>/dev/null && return 0
		done
		return 1
	fi
	command -v "$1" >/dev/null
}

# missing sets missing_tools and missing_packages (each package once).
missing() {
	missing_tools=() missing_packages=()
	local tool pkg
	for tool in "${tools[@]}"; do
		have "$tool" && continue
		missing_tools+=("$tool")
		for pkg in ${package[$tool]}; do
			[[ " ${missing_packages[*]} " == *" $pkg "* ]] || missing_packages+=("$pkg")
		done
	done
}

missing
((${#missing_tools[@]})) || exit 0

if ! command -v apt-get >/dev/null; then
	echo "missing: ${missing_tools[*]}; install them with your package manager" >&2
	exit 1
fi
if [[ $(id -u) == 0 ]]; then
	apt() { DEBIAN_FRONTEND=noninteractive apt-get "$@"; }
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
	apt() { sudo -n DEBIAN_FRONTEND=noninteractive apt-get "$@"; }
else
	echo "missing: ${missing_tools[*]}; install them with:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing_packages[*]}" >&2
	exit 1
fi

echo "installing ${missing_packages[*]} (for ${missing_tools[*]})"
apt update -qq
apt install -y -qq --no-install-recommends "${missing_packages[@]}"
# Debian's packages start services on install where an init system runs;
# the tests start their own on free ports, so these are not in the way.

missing
if ((${#missing_tools[@]})); then
	echo "still missing after apt-get: ${missing_tools[*]}" >&2
	exit 1
fi
