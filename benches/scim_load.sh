#!/usr/bin/env bash
# SCIM load benchmark: 10,000 users, 32 connections, wrk. Prints requests/s and latency
# percentiles for filtered GET, POST and PATCH-deactivate, next to the HTTP floor of the same
# server (/healthz: no database, no auth). At the default configuration a user runs (log
# level info) unless told otherwise.
#
#   benches/scim_load.sh [DURATION_SECONDS] [DURABILITY] [ENGINE] [LOG_LEVEL]
#   (defaults: 10, full, sqlite, info; ENGINE postgres starts a cluster of its own, fsync on)
#   TAPBRIDGE_DATABASE__GROUP_COMMIT_MAX=1 measures without group commit.
#
# Needs wrk (apt-get install wrk) and a release build (built here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
durability=${2:-full}
engine=${3:-sqlite}
log_level=${4:-info}
conns=32
threads=2
command -v wrk >/dev/null || { echo "wrk is required: apt-get install wrk" >&2; exit 2; }
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/tapbridge
work=$(mktemp -d)
pg_pid=
trap 'kill $pid 2>/dev/null || true; [ -z "$pg_pid" ] || kill $pg_pid 2>/dev/null || true; rm -rf "$work"' EXIT
if [ "$engine" = postgres ]; then
  cargo build --release --quiet -p tapbridge-testkit --bin pg-cluster
  mkfifo "$work/pg-in"
  "${CARGO_TARGET_DIR:-target}/release/pg-cluster" <"$work/pg-in" >"$work/pg-url" &
  pg_pid=$!
  exec 3>"$work/pg-in" # the cluster lives while this stays open
  for _ in $(seq 600); do [ -s "$work/pg-url" ] && break; sleep 0.1; done
  export TAPBRIDGE_DATABASE__URL=$(head -1 "$work/pg-url")
fi
export TAPBRIDGE_DATA_DIR=$work/data TAPBRIDGE_LOG__LEVEL=$log_level TAPBRIDGE_DATABASE__DURABILITY=$durability
export TAPBRIDGE_SCIM__MAX_RESULTS=10000 TAPBRIDGE_SERVER__LISTEN=127.0.0.1:0
"$bin" serve >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do grep -q listening "$work/out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^tapbridge listening on //p' "$work/out")
export SCIM_TOKEN
SCIM_TOKEN=$("$bin" token create --name load --scim-source load --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

summary() { # name, wrk output file
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$2")
  p50=$(awk '$1=="50%" {print $2}' "$2")
  p99=$(awk '$1=="99%" {print $2}' "$2")
  printf '%-44s %10s req/s   p50 %8s   p99 %8s\n' "$1" "$rps" "$p50" "$p99"
}

echo "tapbridge SCIM load, $conns connections, ${duration}s per run, engine=$engine, durability=$durability, log=$log_level, group_commit_max=${TAPBRIDGE_DATABASE__GROUP_COMMIT_MAX:-64}, $(nproc) cores"
wrk -t$threads -c$conns -d${duration}s --latency "$base/healthz" >"$work/floor.txt"
summary "HTTP floor: GET /healthz" "$work/floor.txt"

wrk -t$threads -c$conns -d${duration}s --latency -s benches/scim/create.lua "$base" >"$work/create.txt"
summary "POST /Users (create)" "$work/create.txt"

# Top up to 10,000 users if the create run made fewer, then list them.
have=$(curl -s -H "Authorization: Bearer $SCIM_TOKEN" "$base/scim/v2/Users?count=0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["totalResults"])')
python3 - "$base" "$have" <<'PY'
import json, os, sys, urllib.request
base, have = sys.argv[1], int(sys.argv[2])
tok = os.environ["SCIM_TOKEN"]
for i in range(have, 10000):
    body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"fill-{i}@bench.example"}).encode()
    req = urllib.request.Request(base + "/scim/v2/Users", data=body, method="POST",
        headers={"Authorization": "Bearer " + tok, "Content-Type": "application/scim+json"})
    urllib.request.urlopen(req).read()
PY
curl -s -H "Authorization: Bearer $SCIM_TOKEN" "$base/scim/v2/Users?attributes=userName&count=10000" >"$work/users.json"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["Resources"]; open(sys.argv[2],"w").write("\n".join(u["userName"] for u in r)); open(sys.argv[3],"w").write("\n".join(u["id"] for u in r)); print(f"users in store: {len(r)}")' \
  "$work/users.json" "$work/names" "$work/ids"

NAMES_FILE=$work/names wrk -t$threads -c$conns -d${duration}s --latency -s benches/scim/filter.lua "$base" >"$work/filter.txt"
summary 'GET /Users?filter=userName eq "…"' "$work/filter.txt"

IDS_FILE=$work/ids wrk -t$threads -c$conns -d${duration}s --latency -s benches/scim/deactivate.lua "$base" >"$work/patch.txt"
summary "PATCH /Users/{id} active=false|true" "$work/patch.txt"

for f in create filter patch; do
  errors=$(grep -E "Non-2xx|Socket errors" "$work/$f.txt" || true)
  [ -z "$errors" ] || echo "$f: $errors"
done
