#!/usr/bin/env bash
# The fleet proof: `replenish simulate` against gunicorn (2 workers), a Celery worker and beat, on real PostgreSQL
# and Redis (a scratch database, dropped at the end), with a simulated store that delivers within a simulated
# day. Prints the simulator's counts (errors, duplicate orders, run-out days, wrong orders) and the wall time.
#   bash bench/fleet.sh [APPLIANCES] [BUTTONS] [DAYS] [CONCURRENCY]      (defaults: 1000 1000 60 16)
# Needs PostgreSQL (127.0.0.1:5432, trust auth) and Redis (127.0.0.1:6379) and `make install`.
set -euo pipefail
cd "$(dirname "$0")/.."
APPLIANCES=${1:-1000} BUTTONS=${2:-1000} DAYS=${3:-60} CONCURRENCY=${4:-16}
DB=rpl_fleet_$$ PORT=$((18500 + $$ % 400)) REDIS_DB=${FLEET_REDIS_DB:-14}
export DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/$DB
export REDIS_URL=redis://127.0.0.1:6379/$REDIS_DB BROKER_URL=redis://127.0.0.1:6379/$REDIS_DB
export SIM_CONFIRM_DELAY=0.2 SIM_SHIP_DELAY=0.3 SIM_DELIVER_DELAY=0.5 TRACK_INTERVAL=0.5 SWEEP_INTERVAL=1
export RELAY_INTERVAL=1 RELAY_GRACE=2 SUBMIT_GRACE=2 CELERY_QUEUE=fleet-$$ REPLENISH_EMBEDDED_WORKER=0
export REPLENISH_VAR_DIR=$(mktemp -d)
LOGS=$REPLENISH_VAR_DIR
psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $DB"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 2
  psql -h 127.0.0.1 -U postgres -d test -qc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$DB'" >/dev/null
  psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $DB"
}
trap cleanup EXIT
redis-cli -n "$REDIS_DB" flushdb >/dev/null
.venv/bin/replenish migrate >/dev/null
.venv/bin/replenish seed-demo >/dev/null
.venv/bin/gunicorn -w 2 -b 127.0.0.1:$PORT replenish.web.wsgi:app >"$LOGS/gunicorn.log" 2>&1 & pids+=($!)
.venv/bin/replenish worker -c 2 >"$LOGS/worker.log" 2>&1 & pids+=($!)
.venv/bin/replenish beat >"$LOGS/beat.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
.venv/bin/replenish simulate --appliances "$APPLIANCES" --buttons "$BUTTONS" --days "$DAYS" \
    --concurrency "$CONCURRENCY" --url "http://127.0.0.1:$PORT"
echo "logs: $LOGS"
