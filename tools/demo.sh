#!/usr/bin/env bash
# Run Distribution Sync locally with demo data:
#
#     bash tools/demo.sh          # create the demo database if missing, start Odoo
#     bash tools/demo.sh status   # is the demo server running?
#     bash tools/demo.sh stop     # stop the demo server
#
# The server runs in the background on http://127.0.0.1:$DSYNC_DEMO_PORT with 2 HTTP
# workers and queue_job's job runner (queue_job is a server-wide module: with
# workers > 0 the runner starts as its own worker process).
#
# Environment (see also tools/common.sh):
#   DSYNC_DEMO_DB     demo database (default: dsync_demo); created once, then reused
#   DSYNC_DEMO_PORT   HTTP port (default: 8069)
set -euo pipefail

# shellcheck source=tools/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$DSYNC_ROOT"

DB="${DSYNC_DEMO_DB:-dsync_demo}"
PORT="${DSYNC_DEMO_PORT:-8069}"
URL="http://127.0.0.1:$PORT"
CONF="$DSYNC_RUN_DIR/demo.conf"
PIDFILE="$DSYNC_RUN_DIR/demo.pid"
SERVER_LOG="$DSYNC_RUN_DIR/demo-server.log"
HEALTH_TIMEOUT=60

demo_pid() {
    local pid
    [ -s "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE")
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

demo_stop() {
    local pid
    if ! pid=$(demo_pid); then
        echo "demo server is not running"
        rm -f "$PIDFILE"
        return 0
    fi
    echo "stopping demo server (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "still running after 30s: sending KILL to $pid"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
    echo "stopped"
}

# Answer 0 when GET /dsync/health answers 200.
demo_healthy() {
    "$PYTHON" - "$URL/dsync/health" <<'EOF' >/dev/null 2>&1
import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
    sys.exit(0 if response.status == 200 else 1)
EOF
}

case "${1:-start}" in
stop)
    demo_stop
    exit 0
    ;;
status)
    if pid=$(demo_pid); then
        echo "demo server running (pid $pid) on $URL, database $DB, log $SERVER_LOG"
    else
        echo "demo server is not running"
    fi
    exit 0
    ;;
start) ;;
*)
    echo "usage: bash tools/demo.sh [start|status|stop]" >&2
    exit 2
    ;;
esac

if pid=$(demo_pid); then
    echo "demo server already running (pid $pid) on $URL: bash tools/demo.sh stop"
    exit 0
fi

dsync_section "Odoo 18.0"
dsync_check_odoo

dsync_section "Python requirements (requirements.txt)"
dsync_pip_install

dsync_section "Server config ($CONF)"
DSYNC_QUEUE_CHANNELS="${DSYNC_QUEUE_CHANNELS:-root:2,root.dsync:2}" \
    dsync_write_config "$CONF" "$DB" \
    "dbfilter = ^$DB\$" \
    "http_interface = 127.0.0.1" \
    "http_port = $PORT" \
    "workers = 2" \
    "max_cron_threads = 1"

if dsync_db_exists "$DB"; then
    dsync_section "Database '$DB' exists: reused and updated (dropdb $DB to start over)"
    dsync_odoo -c "$CONF" -d "$DB" -u "$DSYNC_ADDONS" --stop-after-init \
        --log-level=warn >"$DSYNC_RUN_DIR/update-$DB.log" 2>&1 \
        || { tail -n 40 "$DSYNC_RUN_DIR/update-$DB.log"; dsync_die "update of '$DB' failed"; }
else
    dsync_section "Database '$DB' with ${DSYNC_ADDONS} (+ demo data)"
    dsync_install_db "$CONF" "$DB" "$DSYNC_RUN_DIR/install-$DB.log"
    "$PYTHON" tools/check_install_log.py "$DSYNC_RUN_DIR/install-$DB.log" \
        || echo "(warnings above do not stop the demo; tools/test.sh fails on them)"
fi
dsync_check_installed "$DB"

dsync_section "Odoo server on $URL (2 workers + queue_job runner)"
if "$PYTHON" -c "import socket, sys; socket.create_connection(('127.0.0.1', $PORT), 2)" \
    2>/dev/null; then
    dsync_die "port $PORT is already in use by another process (DSYNC_DEMO_PORT=...)"
fi
# setsid: the server gets its own process group, so it survives this shell
LAUNCHER=$(dsync_launcher)
setsid "$PYTHON" "$LAUNCHER" -c "$CONF" -d "$DB" --workers=2 --logfile="$SERVER_LOG" \
    </dev/null >>"$SERVER_LOG.stdout" 2>&1 &
echo $! >"$PIDFILE"
echo "pid $(cat "$PIDFILE"), log $SERVER_LOG"

started=$(date +%s)
until demo_healthy; do
    waited=$(($(date +%s) - started))
    if ! demo_pid >/dev/null; then
        echo "---- last 40 lines of $SERVER_LOG ----"
        tail -n 40 "$SERVER_LOG" 2>/dev/null || true
        tail -n 20 "$SERVER_LOG.stdout" 2>/dev/null || true
        dsync_die "the Odoo server exited during start-up"
    fi
    if [ "$waited" -ge "$HEALTH_TIMEOUT" ]; then
        echo "---- last 40 lines of $SERVER_LOG ----"
        tail -n 40 "$SERVER_LOG" 2>/dev/null || true
        dsync_die "GET $URL/dsync/health did not answer 200 within ${HEALTH_TIMEOUT}s \
(server still running: bash tools/demo.sh stop)"
    fi
    sleep 1
done
echo "GET /dsync/health: 200 after $(($(date +%s) - started))s"

if [ -f tests/demo.py ]; then
    dsync_section "Demo scenario (python3 -m tests.demo)"
    DSYNC_DEMO_URL="$URL" DSYNC_DEMO_DB="$DB" DSYNC_DEMO_CONF="$CONF" \
        "$PYTHON" -m tests.demo
fi

dsync_section "Ready"
cat <<EOF
Odoo:      $URL/odoo  (database $DB, login admin / password admin)
Health:    $URL/dsync/health
Server log: $SERVER_LOG
Stop:      bash tools/demo.sh stop
EOF
