#!/bin/sh
# build-deb.sh OUTDIR: builds the Debian package from a copy of the source tree (the
# worktree stays clean: dpkg-buildpackage writes next to the source and into debian/),
# runs lintian on it (any error fails), and leaves in OUTDIR the .deb, .buildinfo,
# .changes and lintian.txt. debian/changelog's version must be VERSION.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
version=$(cat "$root/VERSION")
deb_version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
if [ "${deb_version%-*}" != "$version" ]; then
    echo "build-deb: debian/changelog says $deb_version, VERSION says $version: add a changelog entry (dch -v $version)" >&2
    exit 1
fi

work=$out/src
rm -rf "$work" "$out"/*.deb "$out"/*.buildinfo "$out"/*.changes "$out"/lintian.txt
src=$work/juggernautd-$version
mkdir -p "$src"
# the files git knows (committed or not, minus ignored ones); a tarball: everything but build/
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - --no-recursion) |
        tar -xf - -C "$src"
else
    (cd "$root" && tar -cf - --exclude=./build --exclude=./node_modules .) | tar -xf - -C "$src"
fi

start=$(date +%s)
(cd "$src" && nice -n 10 dpkg-buildpackage -us -uc -b) > "$out/build.log" 2>&1 || {
    tail -40 "$out/build.log" >&2
    echo "build-deb: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
    exit 1
}
mv "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$out"/
rm -rf "$work"
echo "build-deb: built $(cd "$out" && ls -- *.deb | tr "\n" " ")in $(( $(date +%s) - start )) s"

changes=$(ls "$out"/*.changes)
# --fail-on error: warnings are shown, errors fail the build
if ! lintian --fail-on error --display-info "$changes" > "$out/lintian.txt" 2>&1; then
    cat "$out/lintian.txt" >&2
    echo "build-deb: lintian reports errors" >&2
    exit 1
fi
echo "build-deb: lintian: $(grep -c '^E:' "$out/lintian.txt" || true) errors," \
     "$(grep -c '^W:' "$out/lintian.txt" || true) warnings, $(grep -c '^I:' "$out/lintian.txt" || true) info ($out/lintian.txt)"
