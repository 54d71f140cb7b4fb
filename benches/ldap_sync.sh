#!/usr/bin/env bash
# LDAP sync benchmark against a private slapd.
#
#   benches/ldap_sync.sh [USERS] [TAPBRIDGE_BINARY]
#
# Loads USERS generated people (default 10000) into a fresh slapd (mdb, syncprov, memberof,
# refint) on a free loopback port, then times:
#   1. a raw paged dump of the same entries: ldapsearch -E pr=1000/noprompt > /dev/null
#   2. `tapbridge sync ldap --full` into an empty database (initial load: every user created,
#      audited and announced as a joiner)
#   3. `tapbridge sync ldap --full` again (steady state: every entry read, compared, none written)
#   4. `tapbridge sync ldap` after changing 100 entries (RFC 4533 delta)
# and prints each time, the ratios to the raw dump, and tapbridge's peak memory (max RSS).
#
# Build first: cargo build --release (the binary defaults to $CARGO_TARGET_DIR or ./target).
set -euo pipefail

N=${1:-10000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${2:-${CARGO_TARGET_DIR:-$ROOT/target}/release/tapbridge}
[[ -x $BIN ]] || { echo "no binary at $BIN: cargo build --release" >&2; exit 2; }
for tool in /usr/sbin/slapd slapadd ldapsearch ldapmodify /usr/bin/time python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install slapd ldap-utils time)" >&2; exit 2; }
done

WORK=$(mktemp -d)
SLAPD_PID=
cleanup() {
    [[ -n $SLAPD_PID ]] && kill "$SLAPD_PID" 2>/dev/null && wait "$SLAPD_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT TERM

BASE="dc=example,dc=com"
ADMIN="cn=admin,$BASE"
PW="bench-secret"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="ldap://127.0.0.1:$PORT"
mkdir -p "$WORK/db" "$WORK/data"
cat >"$WORK/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload syncprov
moduleload memberof
moduleload refint
pidfile $WORK/slapd.pid
database mdb
maxsize 8589934592
suffix "$BASE"
rootdn "$ADMIN"
rootpw $PW
directory $WORK/db
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

echo "== generating $N users"
python3 - "$N" "$BASE" >"$WORK/users.ldif" <<'EOF'
import sys
n, base = int(sys.argv[1]), sys.argv[2]
out = sys.stdout
out.write(f"dn: {base}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n")
out.write(f"dn: ou=People,{base}\nobjectClass: organizationalUnit\nou: People\n\n")
out.write(f"dn: ou=Groups,{base}\nobjectClass: organizationalUnit\nou: Groups\n\n")
for i in range(n):
    mgr = f"manager: uid=user{i // 10 * 10},ou=People,{base}\n" if i % 10 else ""
    out.write(
        f"dn: uid=user{i},ou=People,{base}\nobjectClass: inetOrgPerson\nuid: user{i}\n"
        f"cn: User {i}\nsn: Number{i}\ngivenName: User\ndisplayName: User Number {i}\n"
        f"mail: user{i}@example.com\n{mgr}\n"
    )
# 20 groups of n/20 members each
for g in range(20):
    out.write(f"dn: cn=group{g},ou=Groups,{base}\nobjectClass: groupOfNames\ncn: group{g}\n")
    for i in range(g, n, 20):
        out.write(f"member: uid=user{i},ou=People,{base}\n")
    out.write("\n")
EOF
slapadd -q -f "$WORK/slapd.conf" -l "$WORK/users.ldif"
/usr/sbin/slapd -f "$WORK/slapd.conf" -h "$URL/" -d 0 2>"$WORK/slapd.log" &
SLAPD_PID=$!
for _ in $(seq 100); do
    ldapsearch -x -H "$URL" -b "" -s base >/dev/null 2>&1 && break
    sleep 0.1
done

ATTRS="cn displayName givenName mail manager objectClass sn uid entryUUID"
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }

echo "== raw dump (ldapsearch -E pr=1000/noprompt)"
t0=$(now)
ldapsearch -x -LLL -H "$URL" -D "$ADMIN" -w "$PW" -b "$BASE" -E pr=1000/noprompt \
    "(objectClass=inetOrgPerson)" $ATTRS >/dev/null
t1=$(now)
RAW=$(elapsed "$t0" "$t1")
t0=$(now)
ldapsearch -x -LLL -H "$URL" -D "$ADMIN" -w "$PW" -b "$BASE" -E pr=1000/noprompt \
    "(|(objectClass=inetOrgPerson)(objectClass=groupOfNames))" $ATTRS member >/dev/null
t1=$(now)
RAW_ALL=$(elapsed "$t0" "$t1")

printf '%s\n' "$PW" >"$WORK/pw"
cat >"$WORK/tapbridge.toml" <<EOF
data_dir = "$WORK/data"

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

run_sync() { # label, args…
    local label=$1; shift
    local t0 t1
    t0=$(now)
    /usr/bin/time -v "$BIN" --config "$WORK/tapbridge.toml" sync ldap "$@" \
        >"$WORK/$label.out" 2>"$WORK/$label.err" || { cat "$WORK/$label.out" "$WORK/$label.err" >&2; exit 1; }
    t1=$(now)
    eval "${label}_S=$(elapsed "$t0" "$t1")"
    eval "${label}_RSS=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/$label.err")"
    tail -n 1 "$WORK/$label.out"
}

echo "== tapbridge sync ldap --full (initial load into an empty database)"
run_sync initial --full
echo "== tapbridge sync ldap --full (steady state, nothing changed)"
run_sync steady --full

echo "== changing 100 entries"
python3 - "$N" "$BASE" >"$WORK/changes.ldif" <<'EOF'
import sys
n, base = int(sys.argv[1]), sys.argv[2]
step = max(1, n // 100)
for k, i in enumerate(range(0, n, step)):
    if k == 100:
        break
    print(f"dn: uid=user{i},ou=People,{base}\nchangetype: modify\nreplace: displayName\ndisplayName: Changed {i}\n")
EOF
ldapmodify -x -H "$URL" -D "$ADMIN" -w "$PW" -f "$WORK/changes.ldif" >/dev/null
echo "== tapbridge sync ldap (delta)"
run_sync delta

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
echo
echo "users: $N (plus 20 groups of $((N / 20)) members)"
echo "raw dump, users only:          ${RAW} s"
echo "raw dump, users and groups:    ${RAW_ALL} s"
echo "sync --full, initial load:     ${initial_S} s   ratio $(ratio "$initial_S" "$RAW_ALL")×   peak RSS $((initial_RSS / 1024)) MB"
echo "sync --full, steady state:     ${steady_S} s   ratio $(ratio "$steady_S" "$RAW_ALL")×   peak RSS $((steady_RSS / 1024)) MB"
echo "sync (delta, 100 changes):     ${delta_S} s   peak RSS $((delta_RSS / 1024)) MB"
