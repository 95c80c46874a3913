#!/usr/bin/env bash
# Run Distribution Sync locally with demo data:
#
#     bash tools/demo.sh          # create the demo database if missing, start Odoo
#     bash tools/demo.sh status   # is the demo server running?
#     bash tools/demo.sh stop     # stop the demo server
#
# The server runs in the background with 2 x CPUs + 1 HTTP workers (Odoo's
# guideline) and queue_job's job runner (queue_job is a server-wide module: with
# workers > 0 the runner starts as its own worker process). Jobs run inside the
# HTTP workers, two at a time: the other workers stay free for webhooks and users.
#
# With workers, Odoo serves pages on its HTTP port and its real-time channel
# (/websocket: screens that refresh by themselves) on its gevent port. As nginx
# does in production (docs/deployment.md), a small proxy (tools/demo_proxy.py)
# gives both one address, http://127.0.0.1:$DSYNC_DEMO_PORT: Odoo's HTTP port is
# DSYNC_DEMO_PORT + 1 and its gevent port DSYNC_DEMO_PORT + 2.
#
# Environment (see also tools/common.sh):
#   DSYNC_DEMO_DB       demo database (default: dsync_demo); created once, then reused
#   DSYNC_DEMO_PORT     the address's port (default: 8069; Odoo uses the next two)
#   DSYNC_DEMO_WORKERS  HTTP workers (default: 2 x CPUs + 1)
set -euo pipefail

# shellcheck source=tools/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$DSYNC_ROOT"

DB="${DSYNC_DEMO_DB:-dsync_demo}"
PORT="${DSYNC_DEMO_PORT:-8069}"
ODOO_PORT=$((PORT + 1))
GEVENT_PORT=$((PORT + 2))
URL="http://127.0.0.1:$PORT"
CONF="$DSYNC_RUN_DIR/demo.conf"
WORKERS="${DSYNC_DEMO_WORKERS:-$((2 * $(nproc) + 1))}"
PIDFILE="$DSYNC_RUN_DIR/demo.pid"
PROXY_PIDFILE="$DSYNC_RUN_DIR/demo-proxy.pid"
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
    dsync_stop_server "$PROXY_PIDFILE" >/dev/null
    if ! demo_pid >/dev/null; then
        echo "demo server is not running"
        rm -f "$PIDFILE"
        return 0
    fi
    dsync_stop_server "$PIDFILE"
    echo "stopped"
}

case "${1:-start}" in
stop)
    demo_stop
    exit 0
    ;;
status)
    if pid=$(demo_pid); then
        echo "demo server running (pid $pid) on $URL, database $DB, log $SERVER_LOG"
        echo "(Odoo's own ports: HTTP $ODOO_PORT, gevent/websocket $GEVENT_PORT)"
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
    "http_interface = 127.0.0.1" \
    "http_port = $ODOO_PORT" \
    "gevent_port = $GEVENT_PORT" \
    "workers = $WORKERS" \
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

dsync_section "Odoo server on $URL ($WORKERS workers + queue_job runner, live updates)"
for port in "$PORT" "$ODOO_PORT" "$GEVENT_PORT"; do
    if "$PYTHON" -c "import socket; socket.create_connection(('127.0.0.1', $port), 2)" \
        2>/dev/null; then
        dsync_die "port $port is already in use by another process (DSYNC_DEMO_PORT=...)"
    fi
done
dsync_start_server "$CONF" "$DB" "$SERVER_LOG" "$PIDFILE" "$WORKERS"
setsid "$PYTHON" tools/demo_proxy.py "$PORT" "$ODOO_PORT" "$GEVENT_PORT" \
    </dev/null >>"$DSYNC_RUN_DIR/demo-proxy.log" 2>&1 &
echo $! >"$PROXY_PIDFILE"
echo "proxy pid $(cat "$PROXY_PIDFILE"): $URL -> pages :$ODOO_PORT, /websocket :$GEVENT_PORT"
dsync_wait_healthy "$URL" "$PIDFILE" "$SERVER_LOG" "$HEALTH_TIMEOUT" \
    "(server still running: bash tools/demo.sh stop)"

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
