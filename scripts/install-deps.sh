#!/bin/sh
# install-deps.sh PACKAGE...: installs the Debian packages that are missing (a no-op when all
# are present). Needs root for apt-get; otherwise prints the command to run and fails.
set -eu
missing=""
for pkg in "$@"; do
    case "$pkg" in
        nodejs) command -v node >/dev/null 2>&1 && continue ;;
        npm) command -v npm >/dev/null 2>&1 && continue ;;
    esac
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done
[ -z "$missing" ] && exit 0
echo "juggernautd: installing missing Debian packages:$missing"
if [ "$(id -u)" != 0 ]; then
    echo "juggernautd: not root; run this first, then try again:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
