#!/bin/sh
# scripts/check-deps.sh: the one-way architecture (docs/ARCHITECTURE.md), checked from the
# #include lines of src/. Fails (exit 1, one line per problem) on:
#   - an upward include: a file including a header of a layer above its own;
#   - a sideways include between transport/ and cluster/ (siblings: they meet only in app/);
#   - a project header included without its layer folder ("session.h" for "core/session.h");
#   - an include circle between modules (a module = a .c and its .h), in any layer;
#   - a .c file longer than MAX_LINES (default 600).
# Run by `make check-deps`, which make test and CI run.
# SRC (default: the repository's src/) is the tree to check.
set -eu
cd "$(dirname "$0")/.."
SRC=${SRC:-src}
MAX_LINES=${MAX_LINES:-600}

# rank of each layer: a file may include its own layer and those of lower rank
rank() {
    case "$1" in
        base) echo 0 ;;
        proto) echo 1 ;;
        core) echo 2 ;;
        transport | cluster) echo 3 ;;
        app) echo 4 ;;
        *) echo -1 ;;
    esac
}

fail=0
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT

for f in "$SRC"/*/*.c "$SRC"/*/*.h; do
    [ -e "$f" ] || continue
    layer=${f#"$SRC"/}
    layer=${layer%%/*}
    r=$(rank "$layer")
    if [ "$r" -lt 0 ]; then
        echo "check-deps: $f: folder \"$layer\" is not a layer (base proto core transport cluster app)"
        fail=1
        continue
    fi
    stem=$(basename "$f")
    module="$layer/${stem%.*}"
    # every quoted include: project headers only ("<...>" ones are system libraries)
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
        case "$inc" in
            */*) ;;
            *)
                echo "check-deps: $f includes \"$inc\": name it with its layer folder (e.g. \"core/$inc\")"
                fail=1
                continue
                ;;
        esac
        if [ ! -f "$SRC/$inc" ]; then
            echo "check-deps: $f includes \"$inc\", which is not a header under $SRC/"
            fail=1
            continue
        fi
        il=${inc%%/*}
        ir=$(rank "$il")
        if [ "$ir" -gt "$r" ]; then
            echo "check-deps: $f includes \"$inc\": $layer/ may not include from $il/ (a layer above it)"
            fail=1
        elif [ "$ir" -eq "$r" ] && [ "$il" != "$layer" ]; then
            echo "check-deps: $f includes \"$inc\": $layer/ and $il/ are siblings; they meet only in app/"
            fail=1
        fi
        target="$il/$(basename "${inc%.h}")"
        [ "$target" != "$module" ] && echo "$module $target" >> "$edges"
    done
done

# tsort reports every loop it finds on stderr
if ! loops=$(sort -u "$edges" | tsort 2>&1 >/dev/null); then
    echo "check-deps: an include circle between modules:"
    echo "$loops" | sed 's/^/    /'
    fail=1
elif [ -n "$loops" ]; then
    echo "check-deps: an include circle between modules:"
    echo "$loops" | sed 's/^/    /'
    fail=1
fi

for f in "$SRC"/*/*.c; do
    [ -e "$f" ] || continue
    n=$(wc -l < "$f")
    if [ "$n" -gt "$MAX_LINES" ]; then
        echo "check-deps: $f has $n lines (at most $MAX_LINES: split it by what its parts do)"
        fail=1
    fi
done

if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "check-deps: $(ls "$SRC"/*/*.c | wc -l) files in $(ls -d "$SRC"/*/ | wc -l) layers, includes one way, no circle, none over $MAX_LINES lines"
