#!/usr/bin/env bash
# LDAP sync benchmark against a private slapd, each figure printed next to its limit.
#
#   benches/ldap_sync.sh [USERS ...]          (default: 10000 100000)
#
#   TAPBRIDGE=path   the binary measured (default: $CARGO_TARGET_DIR or ./target, release)
#   BASELINE=path    another build measured side by side against the same directory (optional)
#   ENGINE=postgres  each build's database on a PostgreSQL cluster of its own (testkit's
#                    pg-cluster, fsync on), instead of the embedded SQLite file (default)
#
# For each size, loads a directory shaped like a company's (benches/ldap/directory.py: 100
# groups, ~2.4 memberships per person, an "All Staff" group holding everyone, 5 % without
# mail, non-ASCII names, managers, POSIX attributes) into a fresh slapd (mdb, syncprov with a
# session log, memberof, refint) on a free loopback port, then times, process start included:
#   1. the floor: a paged dump of the same users and groups with the same attributes,
#      `ldapsearch -E pr=1000/noprompt` to /dev/null (median of three)
#   2. `sync ldap --full` into an empty database (first load)           limit 5 × the dump
#   3. `sync ldap --full` again, nothing changed (steady state; median of five)  limit 1.5 × the dump
#   4. `sync ldap`, nothing changed (empty RFC 4533 delta)              limit 0.3 s
#   5. `sync ldap` after 100 changes and 5 deletions                    limit 0.3 s
# and the peak memory (max RSS) of every run, limit 150 MiB.
#
# Build first: cargo build --release.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZES=("$@")
((${#SIZES[@]})) || SIZES=(10000 100000)
BIN=${TAPBRIDGE:-${CARGO_TARGET_DIR:-$ROOT/target}/release/tapbridge}
[[ -x $BIN ]] || { echo "no binary at $BIN: cargo build --release" >&2; exit 2; }
[[ -z ${BASELINE:-} || -x $BASELINE ]] || { echo "no binary at BASELINE=$BASELINE" >&2; exit 2; }
for tool in /usr/sbin/slapd slapadd ldapsearch ldapmodify /usr/bin/time python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install slapd ldap-utils time)" >&2; exit 2; }
done

STEADY_RUNS_N=5

# Limits (issue 14).
FIRST_LOAD_X=5
STEADY_X=1.5
DELTA_S=0.3
PEAK_MIB=150

WORK=$(mktemp -d)
SLAPD_PID=
stop_slapd() {
    if [[ -n $SLAPD_PID ]]; then
        kill "$SLAPD_PID" 2>/dev/null || true
        wait "$SLAPD_PID" 2>/dev/null || true
        SLAPD_PID=
    fi
}
PG_PIDS=()
trap 'stop_slapd; for p in "${PG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
trap "exit 130" INT TERM

ENGINE=${ENGINE:-sqlite}
case $ENGINE in
sqlite) ;;
postgres)
    PG_CLUSTER=${CARGO_TARGET_DIR:-$ROOT/target}/release/pg-cluster
    [[ -x $PG_CLUSTER ]] || { echo "no $PG_CLUSTER: cargo build --release -p tapbridge-testkit --bin pg-cluster" >&2; exit 2; }
    ;;
*) echo "ENGINE must be sqlite or postgres" >&2; exit 2 ;;
esac
# Sets PG_URL to a fresh database on a PostgreSQL cluster of its own, kept until the script
# ends (the cluster lives while its standard input stays open; no subshell, so the descriptor
# stays with the script).
pg_database() { # name
    local fifo=$WORK/pg-in-$1 out=$WORK/pg-url-$1 fd
    mkfifo "$fifo"
    "$PG_CLUSTER" <"$fifo" >"$out" &
    PG_PIDS+=($!)
    exec {fd}>"$fifo"
    for _ in $(seq 600); do [[ -s $out ]] && break; sleep 0.1; done
    [[ -s $out ]] || { echo "pg-cluster did not start" >&2; exit 1; }
    PG_URL=$(head -1 "$out")
}

BASE="dc=example,dc=com"
ADMIN="cn=admin,$BASE"
PW="bench-secret"
USER_ATTRS="cn displayName entryUUID givenName mail manager objectClass sn uid"
GROUP_ATTRS="cn description entryUUID member memberUid objectClass uniqueMember"
USER_FILTER="(objectClass=inetOrgPerson)"
GROUP_FILTER="(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))"

now() { date +%s.%N; }
calc() { python3 -c "print(f'{$1:.${2:-3}f}')"; }
verdict() { python3 -c "print('met' if $1 <= $2 else 'MISSED')"; }

start_slapd() { # dir, url
    local dir=$1 url=$2
    mkdir -p "$dir/db"
    cat >"$dir/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload syncprov
moduleload memberof
moduleload refint
pidfile $dir/slapd.pid
database mdb
maxsize 8589934592
suffix "$BASE"
rootdn "$ADMIN"
rootpw $PW
directory $dir/db
index objectClass eq
index entryUUID,entryCSN eq
limits dn.exact="$ADMIN" size=unlimited time=unlimited
overlay syncprov
syncprov-checkpoint 1000 10
# How OpenLDAP is set up for delta consumers: without a session log, every refresh lists
# every unchanged entry (present phase) and a delta costs as much as the directory is big.
syncprov-sessionlog 100000
overlay memberof
overlay refint
refint_attributes member uniqueMember manager
EOF
    slapadd -q -f "$dir/slapd.conf" -l "$dir/directory.ldif"
    /usr/sbin/slapd -f "$dir/slapd.conf" -h "$url/" -d 0 2>"$dir/slapd.log" &
    SLAPD_PID=$!
    for _ in $(seq 100); do
        ldapsearch -x -H "$url" -b "" -s base >/dev/null 2>&1 && return
        sleep 0.1
    done
    echo "slapd did not start" >&2
    exit 1
}

dump() { # url: users then groups, as a full sync reads them
    ldapsearch -x -LLL -H "$1" -D "$ADMIN" -w "$PW" -b "$BASE" -E pr=1000/noprompt \
        "$USER_FILTER" $USER_ATTRS >/dev/null
    ldapsearch -x -LLL -H "$1" -D "$ADMIN" -w "$PW" -b "$BASE" -E pr=1000/noprompt \
        "$GROUP_FILTER" $GROUP_ATTRS >/dev/null
}

declare -A SECS RSS SUMMARY STEADY_RUNS
run_sync() { # tag (binary's), stage, args…
    local tag=$1 stage=$2
    shift 2
    local bin=$BIN
    [[ $tag == baseline ]] && bin=$BASELINE
    local out=$WORK/$tag.$stage
    local t0 t1
    # The runs before (a first load writes ~1 GB at 100,000 users) leave the kernel writing
    # back their pages for seconds; that is their cost, not this run's.
    sync
    t0=$(now)
    /usr/bin/time -v "$bin" --config "$WORK/$tag.toml" sync ldap "$@" >"$out.out" 2>"$out.err" ||
        { echo "$tag $stage failed:" >&2; cat "$out.out" "$out.err" >&2; exit 1; }
    t1=$(now)
    SECS[$tag.$stage]=$(calc "$t1 - $t0")
    RSS[$tag.$stage]=$(awk -F': ' '/Maximum resident set size/ {printf "%d", $2 / 1024}' "$out.err")
    SUMMARY[$tag.$stage]=$(tail -n 1 "$out.out")
}

for N in "${SIZES[@]}"; do
    DIR=$WORK/slapd-$N
    mkdir -p "$DIR"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    URL="ldap://127.0.0.1:$PORT"
    echo "== $N users: generating and loading the directory"
    python3 "$ROOT/benches/ldap/directory.py" "$N" "$BASE" >"$DIR/directory.ldif"
    MEMBERSHIPS=$(grep -c -E '^member(Uid)?:' "$DIR/directory.ldif")
    start_slapd "$DIR" "$URL"

    echo "== dump (ldapsearch -E pr=1000/noprompt, users and groups, three times)"
    dumps=()
    sync
    for _ in 1 2 3; do
        t0=$(now)
        dump "$URL"
        t1=$(now)
        dumps+=("$(calc "$t1 - $t0")")
    done
    DUMP=$(printf '%s\n' "${dumps[@]}" | sort -n | sed -n 2p)

    TAGS=(tapbridge)
    [[ -n ${BASELINE:-} ]] && TAGS=(baseline tapbridge)
    printf '%s\n' "$PW" >"$WORK/pw"
    for tag in "${TAGS[@]}"; do
        rm -rf "$WORK/data-$tag"
        cat >"$WORK/$tag.toml" <<EOF
data_dir = "$WORK/data-$tag"

[[ldap.sources]]
name = "bench"
url = "$URL"
bind_dn = "$ADMIN"
password_file = "$WORK/pw"
base_dns = ["$BASE"]
page_size = 1000
batch_size = 1000
max_deprovision_share = 0.1
EOF
        if [[ $ENGINE == postgres ]]; then
            pg_database "$tag-$N"
            printf '\n[database]\nurl = "%s"\n' "$PG_URL" >>"$WORK/$tag.toml"
        fi
    done
    for tag in "${TAGS[@]}"; do
        echo "== $tag: sync ldap --full (first load into an empty database)"
        run_sync "$tag" first --full
    done
    # Five steady runs each, interleaved, the median kept: one run's time on this machine
    # moves by a third from one run to the next.
    for i in $(seq "$STEADY_RUNS_N"); do
        for tag in "${TAGS[@]}"; do
            echo "== $tag: sync ldap --full (steady state, nothing changed; run $i of $STEADY_RUNS_N)"
            run_sync "$tag" "steady$i" --full
        done
    done
    for tag in "${TAGS[@]}"; do
        secs=() rss=()
        for i in $(seq "$STEADY_RUNS_N"); do
            secs+=("${SECS[$tag.steady$i]}")
            rss+=("${RSS[$tag.steady$i]}")
        done
        SECS[$tag.steady]=$(printf '%s\n' "${secs[@]}" | sort -n | sed -n "$(((STEADY_RUNS_N + 1) / 2))p")
        RSS[$tag.steady]=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
        SUMMARY[$tag.steady]=${SUMMARY[$tag.steady$STEADY_RUNS_N]}
        STEADY_RUNS[$tag]="${secs[*]}"
    done
    for tag in "${TAGS[@]}"; do
        echo "== $tag: sync ldap (delta, nothing changed)"
        run_sync "$tag" empty
    done
    python3 "$ROOT/benches/ldap/directory.py" "$N" "$BASE" --changes >"$DIR/changes.ldif"
    ldapmodify -x -H "$URL" -D "$ADMIN" -w "$PW" -f "$DIR/changes.ldif" >/dev/null
    for tag in "${TAGS[@]}"; do
        echo "== $tag: sync ldap (delta: 100 changes, 5 deletions)"
        run_sync "$tag" delta
    done
    stop_slapd

    echo
    echo "$N users, 100 groups, $MEMBERSHIPS memberships, store $ENGINE; dump ${DUMP} s (median of ${dumps[*]});" \
        "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-40s' "work"
    for tag in "${TAGS[@]}"; do printf ' %-20s' "$tag"; done
    printf ' %-24s %s\n' "limit" ""
    row() { # label, stage, limit in seconds, limit text, show the ratio to the dump
        local label=$1 stage=$2 limit=$3 text=$4 ratio=$5 tag s cell
        printf '%-40s' "$label"
        for tag in "${TAGS[@]}"; do
            s=${SECS[$tag.$stage]}
            cell="$s s"
            $ratio && cell+=" = $(calc "$s / $DUMP" 1)x"
            printf ' %-20s' "$cell"
        done
        printf ' %-24s %s\n' "$text" "$(verdict "${SECS[tapbridge.$stage]}" "$limit")"
    }
    row "first load (sync --full, empty store)" first "$FIRST_LOAD_X * $DUMP" \
        "<= ${FIRST_LOAD_X}x dump = $(calc "$FIRST_LOAD_X * $DUMP" 2) s" true
    row "steady full run (median of $STEADY_RUNS_N)" steady "$STEADY_X * $DUMP" \
        "<= ${STEADY_X}x dump = $(calc "$STEADY_X * $DUMP" 2) s" true
    row "delta, nothing changed" empty "$DELTA_S" "<= $DELTA_S s" false
    row "delta, 100 changes + 5 deletions" delta "$DELTA_S" "<= $DELTA_S s" false
    peak_of() { # tag
        local stage peak=0
        for stage in first steady empty delta; do
            if ((RSS[$1.$stage] > peak)); then peak=${RSS[$1.$stage]}; fi
        done
        echo "$peak"
    }
    printf '%-40s' "peak memory (max RSS of any run)"
    for tag in "${TAGS[@]}"; do printf ' %-20s' "$(peak_of "$tag") MiB"; done
    printf ' %-24s %s\n' "<= $PEAK_MIB MiB" "$(verdict "$(peak_of tapbridge)" "$PEAK_MIB")"
    for tag in "${TAGS[@]}"; do
        echo "  $tag peak RSS per run: first ${RSS[$tag.first]}, steady ${RSS[$tag.steady]}," \
            "empty delta ${RSS[$tag.empty]}, delta ${RSS[$tag.delta]} MiB"
    done
    for tag in "${TAGS[@]}"; do
        echo "  $tag steady runs: ${STEADY_RUNS[$tag]} s"
    done
    echo "  (times: wall clock of the whole process, start-up included; the verdict is tapbridge's)"
    for tag in "${TAGS[@]}"; do
        for stage in first steady empty delta; do
            echo "  $tag $stage: ${SUMMARY[$tag.$stage]}"
        done
    done
    echo
done
