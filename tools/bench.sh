#!/usr/bin/env bash
# Benchmarks of Distribution Sync against a real Odoo server with workers:
#
#     bash tools/bench.sh [webhook] [--duration 10] [--connections 8]
#
# Creates (once) the database dsync_bench with the four addons and the baseline
# addon of tests/bench_addons, starts a server on a free port with queue_job's
# runner off (the accept path is measured alone), runs the benchmark module
# tests/bench_<name>.py, prints its numbers and stops the server.
#
# Environment (see also tools/common.sh):
#   DSYNC_BENCH_DB       benchmark database (default: dsync_bench)
#   DSYNC_BENCH_WORKERS  HTTP workers (default: Odoo's guideline of 2 x CPUs + 1,
#                        as recommended for production; the README also
#                        reports one worker per CPU)
set -euo pipefail

# shellcheck source=tools/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$DSYNC_ROOT"

NAME="${1:-webhook}"
[ "$#" -gt 0 ] && shift
DB="${DSYNC_BENCH_DB:-dsync_bench}"
WORKERS="${DSYNC_BENCH_WORKERS:-$((2 * $(nproc) + 1))}"
CONF="$DSYNC_RUN_DIR/bench.conf"
PIDFILE="$DSYNC_RUN_DIR/bench.pid"
SERVER_LOG="$DSYNC_RUN_DIR/bench-server.log"
PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
export DSYNC_EXTRA_ADDONS="$DSYNC_ROOT/tests/bench_addons${DSYNC_EXTRA_ADDONS:+,$DSYNC_EXTRA_ADDONS}"
export DSYNC_ADDONS="$DSYNC_ADDONS,dsync_bench_baseline"

dsync_section "Odoo 18.0"
dsync_check_odoo
dsync_section "Python requirements (requirements.txt)"
dsync_pip_install
if ! command -v wrk >/dev/null; then
    dsync_section "Load generator (Debian's wrk)"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
    else
        dsync_die "wrk is needed (Debian: apt-get install wrk)"
    fi
fi

dsync_section "Server config ($CONF)"
# queue_job's runner off: jobs stay queued while the accept path is measured
DSYNC_QUEUE_CHANNELS="root:0" dsync_write_config "$CONF" "$DB" \
    "http_interface = 127.0.0.1" "http_port = $PORT" \
    "workers = $WORKERS" "max_cron_threads = 0"

if dsync_db_exists "$DB"; then
    dsync_section "Database '$DB' exists: updated"
    dsync_odoo -c "$CONF" -d "$DB" -u "$DSYNC_ADDONS" --stop-after-init \
        --log-level=warn >"$DSYNC_RUN_DIR/update-$DB.log" 2>&1 \
        || { tail -n 40 "$DSYNC_RUN_DIR/update-$DB.log"; dsync_die "update of '$DB' failed"; }
else
    dsync_section "Database '$DB' with $DSYNC_ADDONS"
    dsync_install_db "$CONF" "$DB" "$DSYNC_RUN_DIR/install-$DB.log"
fi

dsync_section "Odoo server on $URL ($WORKERS workers, job runner off)"
dsync_start_server "$CONF" "$DB" "$SERVER_LOG" "$PIDFILE" "$WORKERS"
trap 'dsync_stop_server "$PIDFILE"' EXIT
dsync_wait_healthy "$URL" "$PIDFILE" "$SERVER_LOG" 60

dsync_section "Benchmark $NAME"
"$PYTHON" -m "tests.bench_$NAME" --url "$URL" --db "$DB" --workers "$WORKERS" "$@"
