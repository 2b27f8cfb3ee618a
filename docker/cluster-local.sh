#!/usr/bin/env bash
# `npm run cluster:local`: a fleetgate cluster on this machine, no Docker needed:
# one redis-server, three fleetgate nodes (dev PKI) and HAProxy in front of them
# with docker/haproxy.cfg, the file compose uses (parameterized by environment).
# Ctrl-C (or SIGTERM) stops them all. Every address is loopback.
#
# Environment (defaults in brackets):
#   FG_CLUSTER_LB_PORT     port cars connect to, HAProxy [18883]
#   FG_CLUSTER_NODE_PORTS  the three nodes' MQTT/TLS ports [18884 18885 18886]
#   FG_CLUSTER_ADMIN_PORTS the three nodes' metrics/admin ports (/readyz, /metrics, POST /drain) [19101 19102 19103]
#   FG_CLUSTER_REDIS_PORT  redis-server's port [16379] (never the machine's own 6379)
#   FG_CLUSTER_DIR         logs, pid files, data [.fleetgate-cluster]
#   FG_CLUSTER_PKI         dev PKI directory, made with "fleetgate pki dev" when absent [certs/dev]
#   FG_CLUSTER_WORKERS     --workers of each node [none: one process per node]
#   FG_CLUSTER_NODE_ARGS   more "fleetgate serve" flags for every node (word-split)
set -uo pipefail
cd "$(dirname "$0")/.."

say () { echo "cluster:local: $*"; }
die () { echo "cluster:local: $*" >&2; exit 2; }

if ! command -v haproxy >/dev/null 2>&1; then
  die "haproxy is not installed. Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y haproxy; Fedora: sudo dnf install haproxy; macOS: brew install haproxy"
fi
command -v redis-server >/dev/null 2>&1 || die "redis-server is not installed. Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis"
command -v node >/dev/null 2>&1 || die "node is not on PATH (Node 24 or newer)"
[ -f dist/src/cli/index.js ] || die "not built: run npm run build (npm run cluster:local builds first)"

LB_PORT=${FG_CLUSTER_LB_PORT:-18883}
read -r -a NODE_PORTS <<< "${FG_CLUSTER_NODE_PORTS:-18884 18885 18886}"
read -r -a ADMIN_PORTS <<< "${FG_CLUSTER_ADMIN_PORTS:-19101 19102 19103}"
REDIS_PORT=${FG_CLUSTER_REDIS_PORT:-16379}
DIR=${FG_CLUSTER_DIR:-.fleetgate-cluster}
PKI=${FG_CLUSTER_PKI:-certs/dev}
[ ${#NODE_PORTS[@]} -eq 3 ] || die "FG_CLUSTER_NODE_PORTS: expected three ports, got \"${NODE_PORTS[*]}\""
[ ${#ADMIN_PORTS[@]} -eq 3 ] || die "FG_CLUSTER_ADMIN_PORTS: expected three ports, got \"${ADMIN_PORTS[*]}\""
mkdir -p "$DIR" || die "cannot create $DIR"

pids=()
node_pids=()
stop_all () {
  trap - INT TERM EXIT
  say "stopping"
  # the nodes close at once (SIGINT; SIGTERM would drain them), HAProxy and Redis stop on SIGTERM
  for p in "${node_pids[@]}"; do kill -INT "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 1 50); do
    alive=0
    for p in "${pids[@]}" "${node_pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}" "${node_pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  say "stopped"
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

# GET /readyz until 200 (bounded)
wait_ready () {
  for _ in $(seq 1 150); do
    node -e "fetch('http://127.0.0.1:$1/readyz').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))" && return 0
    sleep 0.2
  done
  return 1
}

node bin/fleetgate.js pki dev --dev-pki "$PKI" >"$DIR/pki.log" 2>&1 || die "fleetgate pki dev --dev-pki $PKI failed: $(tail -n 1 "$DIR/pki.log")"

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$DIR/redis.log" 2>&1 &
pids+=($!); echo $! >"$DIR/redis.pid"
for _ in $(seq 1 50); do grep -q 'Ready to accept connections' "$DIR/redis.log" && break; sleep 0.1; done
grep -q 'Ready to accept connections' "$DIR/redis.log" || die "redis-server did not start on port $REDIS_PORT: $(tail -n 1 "$DIR/redis.log")"
REDIS=redis://127.0.0.1:$REDIS_PORT

workers=()
[ -n "${FG_CLUSTER_WORKERS:-}" ] && workers=(--workers "$FG_CLUSTER_WORKERS")
read -r -a extra <<< "${FG_CLUSTER_NODE_ARGS:-}"
for i in 0 1 2; do
  n=$((i + 1))
  node bin/fleetgate.js serve --dev --dev-pki "$PKI" --host 127.0.0.1 --port "${NODE_PORTS[$i]}" \
    --metrics-port "${ADMIN_PORTS[$i]}" --redis "$REDIS" --data-dir "$DIR/node$n" --proxy-protocol --proxy-from 127.0.0.1 \
    "${workers[@]}" "${extra[@]}" \
    >"$DIR/node$n.log" 2>"$DIR/node$n.err" &
  node_pids+=($!); echo $! >"$DIR/node$n.pid"
done
for i in 0 1 2; do
  wait_ready "${ADMIN_PORTS[$i]}" || die "node$((i + 1)) not ready on 127.0.0.1:${ADMIN_PORTS[$i]}: $(tail -n 2 "$DIR/node$((i + 1)).err")"
done

FG_LB_BIND=127.0.0.1:$LB_PORT \
FG_NODE1=127.0.0.1:${NODE_PORTS[0]} FG_NODE1_ADMIN=${ADMIN_PORTS[0]} \
FG_NODE2=127.0.0.1:${NODE_PORTS[1]} FG_NODE2_ADMIN=${ADMIN_PORTS[1]} \
FG_NODE3=127.0.0.1:${NODE_PORTS[2]} FG_NODE3_ADMIN=${ADMIN_PORTS[2]} \
FG_HAPROXY_STATS=$DIR/haproxy.sock \
  haproxy -db -f docker/haproxy.cfg >"$DIR/haproxy.log" 2>&1 &
pids+=($!); echo $! >"$DIR/haproxy.pid"
for _ in $(seq 1 50); do [ -S "$DIR/haproxy.sock" ] && break; sleep 0.1; done
[ -S "$DIR/haproxy.sock" ] || die "haproxy did not start: $(tail -n 2 "$DIR/haproxy.log")"

say "ready: cars connect to 127.0.0.1:$LB_PORT (HAProxy, TCP pass-through to 3 nodes on ${NODE_PORTS[*]}; admin ports ${ADMIN_PORTS[*]}; Redis $REDIS; dev PKI $PKI; logs in $DIR)"
say "try: node bin/fleetgate.js sim car --help    drain a node: node bin/fleetgate.js drain --metrics-port ${ADMIN_PORTS[0]}    Ctrl-C stops all"
# until Ctrl-C: a node killed or drained does not stop the others
while true; do sleep 1 & wait $!; done
