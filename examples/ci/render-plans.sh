#!/usr/bin/env bash
# Renders anycastd's plan for every router snapshot and compares it with the committed golden file, so a merge
# request that changes the anycastd config shows exactly what anycastd would do on each router.
#
# Layout (next to this script, or in the folder given as $1):
#   config.toml                          the anycastd configuration under review
#   routers/<name>/running-config.txt    `vtysh -c "show running-config"` of that router
#   routers/<name>/health.json           optional: Cabourotte's `GET /result` answer (default: all checks healthy)
#   plans/<name>.txt                     the golden plan, committed
#
#   render-plans.sh [DIR]            exit 1 and print the diff when a plan differs from its golden file
#   render-plans.sh --update [DIR]   rewrite the golden files (review and commit them)
#
# Needs only the anycastd binary ($ANYCASTD, default: anycastd on PATH): no FRR, no Cabourotte, no network.
set -euo pipefail
update=false
if [ "${1:-}" = "--update" ]; then
    update=true
    shift
fi
dir=$(cd "${1:-$(dirname "$0")}" && pwd)
anycastd=${ANYCASTD:-anycastd}
state=$(mktemp -d)   # an empty state directory: no maintenance marker from this machine
trap 'rm -rf "$state"' EXIT

status=0
for router in "$dir"/routers/*/; do
    name=$(basename "$router")
    health=(--assume healthy)
    [ -f "$router/health.json" ] && health=(--health "$router/health.json")
    rendered=$("$anycastd" --configuration "$dir/config.toml" --state-dir "$state" --color never \
        plan --running-config "$router/running-config.txt" "${health[@]}") || code=$?
    if [ "${code:-0}" -eq 1 ]; then
        echo "== $name: the plan has errors" >&2
        status=1
    fi
    unset code
    golden="$dir/plans/$name.txt"
    if $update; then
        printf '%s\n' "$rendered" > "$golden"
        echo "== $name: $golden written"
    elif ! diff -u --label "$name (committed)" --label "$name (this change)" "$golden" <(printf '%s\n' "$rendered"); then
        status=1
    else
        echo "== $name: plan unchanged"
    fi
done
exit $status
