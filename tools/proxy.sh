#!/usr/bin/env bash
# nginx in front of a local Odoo, with the tested configuration of
# tools/proxy/nginx.conf.template (see docs/deployment.md):
#
#     bash tools/proxy.sh start [LISTEN_PORT] [ODOO_PORT]   # default 8080 -> 8069
#     bash tools/proxy.sh stop
#     bash tools/proxy.sh render LISTEN ODOO ODOO_WEBSOCKET PREFIX  # print the config
#
# The websocket upstream is ODOO_PORT + 3 (Odoo's gevent_port default of
# 8072 for 8069). Odoo needs `proxy_mode = True` to take the client's
# address from the proxy's headers (tools/demo.sh sets it).
set -euo pipefail

# shellcheck source=tools/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$DSYNC_ROOT"

TEMPLATE="$DSYNC_ROOT/tools/proxy/nginx.conf.template"
PREFIX="$DSYNC_RUN_DIR/proxy"

render() {
    sed -e "s|@@LISTEN@@|$1|g" -e "s|@@ODOO@@|$2|g" \
        -e "s|@@ODOO_WEBSOCKET@@|$3|g" -e "s|@@PREFIX@@|$4|g" "$TEMPLATE"
}

nginx_bin() {
    command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } \
        || dsync_die "nginx is not installed (Debian: apt-get install nginx-light)"
}

case "${1:-start}" in
render)
    [ "$#" = 5 ] || dsync_die "usage: bash tools/proxy.sh render LISTEN ODOO ODOO_WEBSOCKET PREFIX"
    render "$2" "$3" "$4" "$5"
    ;;
start)
    listen="${2:-8080}"
    odoo="${3:-8069}"
    mkdir -p "$PREFIX"
    # nginx's workers (not root) write request bodies there
    for dir in client_body proxy fastcgi uwsgi scgi; do
        mkdir -p "$PREFIX/$dir" && chmod 0777 "$PREFIX/$dir"
    done
    render "127.0.0.1:$listen" "127.0.0.1:$odoo" "127.0.0.1:$((odoo + 3))" "$PREFIX" \
        >"$PREFIX/nginx.conf"
    "$(nginx_bin)" -t -q -c "$PREFIX/nginx.conf" -p "$PREFIX"
    "$(nginx_bin)" -c "$PREFIX/nginx.conf" -p "$PREFIX"
    echo "nginx on http://127.0.0.1:$listen -> Odoo 127.0.0.1:$odoo (config $PREFIX/nginx.conf)"
    ;;
stop)
    if [ -s "$PREFIX/nginx.pid" ] && kill -0 "$(cat "$PREFIX/nginx.pid")" 2>/dev/null; then
        "$(nginx_bin)" -c "$PREFIX/nginx.conf" -p "$PREFIX" -s quit
        echo "stopped"
    else
        echo "the proxy is not running"
    fi
    ;;
*)
    dsync_die "usage: bash tools/proxy.sh [start [LISTEN_PORT] [ODOO_PORT] | stop | render ...]"
    ;;
esac
