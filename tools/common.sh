# shellcheck shell=bash
# Shared helpers for tools/test.sh and tools/demo.sh (sourced, not executed).
#
# Environment overrides:
#   PYTHON              interpreter that has Odoo 18.0 importable (default: python3)
#   DSYNC_RUN_DIR       throw-away run directory (default: <repo>/.run, gitignored)
#   DSYNC_ADDONS        comma list of addons to install
#                       (default: the four addons of this repository)
#   DSYNC_EXTRA_ADDONS  comma list of extra addons directories appended to addons_path
#   DSYNC_SKIP_PIP=1    do not pip-install requirements.txt (offline re-runs)
#   DSYNC_QUEUE_CHANNELS  [queue_job] channels of the generated config (default root:2)

DSYNC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
DSYNC_RUN_DIR="${DSYNC_RUN_DIR:-$DSYNC_ROOT/.run}"
# set when the caller chose the addons (tools/test.sh then skips its completeness check)
export DSYNC_ADDONS_OVERRIDDEN="${DSYNC_ADDONS:+1}"
DSYNC_ADDONS="${DSYNC_ADDONS:-distribution_sync_core,distribution_sync_stock,distribution_sync_shipment,connector_shopify,connector_wms,connector_carrier}"
DSYNC_EXTRA_ADDONS="${DSYNC_EXTRA_ADDONS:-}"

_DSYNC_T0=$(date +%s)
_DSYNC_SECTION_T0=$_DSYNC_T0

# Print a section header with the time spent in the previous section.
dsync_section() {
    local now
    now=$(date +%s)
    if [ -n "${_DSYNC_SECTION:-}" ]; then
        printf -- '-------- %s: %ss\n' "$_DSYNC_SECTION" "$((now - _DSYNC_SECTION_T0))"
    fi
    _DSYNC_SECTION=$*
    _DSYNC_SECTION_T0=$now
    printf '\n======== [%s +%ss] %s ========\n' "$(date +%H:%M:%S)" \
        "$((now - _DSYNC_T0))" "$*"
}

dsync_die() {
    printf '\nERROR: %s\n' "$*" >&2
    exit 1
}

# a. Odoo 18.0 must be importable by $PYTHON; it is not on PyPI, so say how to get it.
dsync_check_odoo() {
    local info
    if ! info=$("$PYTHON" -c 'import os, sys, odoo, odoo.release as r
assert r.version_info[0] == 18, f"Odoo {r.version} is not 18.0"
print(f"Odoo {r.version} ({os.path.dirname(odoo.__file__)}), Python {sys.version.split()[0]}")' \
        2>&1); then
        cat >&2 <<'EOF'

##########################################################################
#  Odoo 18.0 is not importable by this Python interpreter.               #
##########################################################################

Distribution Sync needs Odoo 18.0 Community installed from Odoo's source,
into the same Python that runs this script (no virtualenv):

    git clone --depth 1 -b 18.0 https://github.com/odoo/odoo
    # python-ldap builds from source (Debian: its headers)
    sudo apt-get install libldap2-dev libsasl2-dev
    # on Python 3.11 Odoo's pin cbor2==5.4.2 does not build: use 5.6.2
    sed -i 's/^cbor2==.*/cbor2==5.6.2/' odoo/requirements.txt
    python3 -m pip install -r odoo/requirements.txt
    # "compat" editable mode, so that OCA addons installed by pip
    # (odoo-addon-queue-job) share the odoo.addons namespace
    python3 -m pip install -e ./odoo --config-settings editable_mode=compat

Then check with:
    python3 -c "import odoo.release as r; print(r.version)"

EOF
        printf 'Interpreter used: %s\nIt said: %s\n' "$PYTHON" "$(tail -n 3 <<<"${info:-<no output>}")" >&2
        exit 2
    fi
    echo "$info"
}

# b. Python requirements of the project (queue_job, pytest-odoo, ...).
dsync_pip_install() {
    if [ "${DSYNC_SKIP_PIP:-0}" = "1" ]; then
        echo "DSYNC_SKIP_PIP=1: not installing requirements.txt"
        return 0
    fi
    "$PYTHON" -m pip install -q --disable-pip-version-check --root-user-action=ignore \
        -r "$DSYNC_ROOT/requirements.txt"
}

# The Fernet key is generated once per run directory and reused, so that a database
# created by an earlier run (the demo one) can still decrypt its secrets.
dsync_fernet_key() {
    local keyfile="$DSYNC_RUN_DIR/dsync_encryption_key"
    if [ ! -s "$keyfile" ]; then
        mkdir -p "$DSYNC_RUN_DIR"
        (umask 077 && "$PYTHON" -c \
            "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())" \
            >"$keyfile")
    fi
    cat "$keyfile"
}

# Odoo's addons directories + the ones of pip-installed OCA addons + this repo's.
dsync_addons_path() {
    DSYNC_ROOT="$DSYNC_ROOT" DSYNC_EXTRA_ADDONS="$DSYNC_EXTRA_ADDONS" "$PYTHON" - <<'EOF'
import os

import odoo
import odoo.addons

def is_addons_dir(path):
    try:
        return any(
            os.path.isfile(os.path.join(path, name, "__manifest__.py"))
            for name in os.listdir(path)
        )
    except OSError:
        return False

odoo_dir = os.path.dirname(os.path.abspath(odoo.__file__))
candidates = list(odoo.addons.__path__)  # odoo/addons + site-packages/odoo/addons
candidates.append(os.path.join(os.path.dirname(odoo_dir), "addons"))  # git clone layout
candidates.extend(p for p in os.environ["DSYNC_EXTRA_ADDONS"].split(",") if p)
candidates.append(os.path.join(os.environ["DSYNC_ROOT"], "addons"))
seen = []
for path in candidates:
    path = os.path.realpath(path)
    if path not in seen and is_addons_dir(path):
        seen.append(path)
print(",".join(seen))
EOF
}

# dsync_write_config FILE DBNAME [extra [options] lines...]
dsync_write_config() {
    local file=$1 db=$2
    shift 2
    local addons_path key
    addons_path=$(dsync_addons_path)
    key=$(dsync_fernet_key)
    mkdir -p "$DSYNC_RUN_DIR/data" "$(dirname "$file")"
    {
        echo "# Generated by tools/common.sh: throw-away config, do not edit or commit."
        echo "[options]"
        echo "db_host ="
        echo "db_port = False"
        echo "db_user = False"
        echo "db_password = False"
        echo "db_name = $db"
        echo "addons_path = $addons_path"
        echo "data_dir = $DSYNC_RUN_DIR/data"
        echo "server_wide_modules = base,web,queue_job"
        echo "dsync_encryption_key = $key"
        echo "log_level = info"
        echo "without_demo = False"
        local line
        for line in "$@"; do
            echo "$line"
        done
        echo ""
        echo "[queue_job]"
        echo "channels = ${DSYNC_QUEUE_CHANNELS:-root:2}"
    } >"$file"
    chmod 600 "$file"
    echo "config: $file"
    echo "addons_path: $addons_path"
}

# Odoo's own launcher (odoo-bin) for $PYTHON. Not `python3 -m odoo`: in prefork mode
# (workers > 0) Odoo re-runs sys.argv[0] to spawn its gevent (websocket) process,
# which fails when argv[0] is odoo/__main__.py; odoo-bin also sets TZ=UTC.
dsync_launcher() {
    local launcher="$DSYNC_RUN_DIR/odoo-bin"
    if [ ! -f "$launcher" ]; then
        mkdir -p "$DSYNC_RUN_DIR"
        cat >"$launcher" <<'EOF'
# Generated by tools/common.sh: the same as Odoo's odoo-bin.
__import__("os").environ["TZ"] = "UTC"
import odoo

if __name__ == "__main__":
    odoo.cli.main()
EOF
    fi
    echo "$launcher"
}

dsync_odoo() {
    "$PYTHON" "$(dsync_launcher)" "$@"
}

# dsync_install_db CONFIG DB LOGFILE: drop-free install of $DSYNC_ADDONS (creates the db).
dsync_install_db() {
    local conf=$1 db=$2 log=$3
    echo "installing $DSYNC_ADDONS into '$db' (with demo data), log: $log"
    local rc=0
    dsync_odoo -c "$conf" -d "$db" -i "$DSYNC_ADDONS" --stop-after-init \
        --log-level=info >"$log" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
        echo "---- last 60 lines of $log ----"
        tail -n 60 "$log"
        dsync_die "Odoo install exited with status $rc"
    fi
}

# dsync_check_installed DB: every addon of $DSYNC_ADDONS must be 'installed'.
dsync_check_installed() {
    local db=$1 missing=0 name state
    local IFS=','
    for name in $DSYNC_ADDONS; do
        state=$(psql -X -At -d "$db" -c \
            "SELECT state FROM ir_module_module WHERE name = '$name'" 2>/dev/null || true)
        printf '  %-28s %s\n' "$name" "${state:-<not found>}"
        if [ "$state" != "installed" ]; then
            missing=1
        fi
    done
    [ "$missing" = 0 ] || dsync_die "some addons are not installed in '$db'"
}

dsync_db_exists() {
    [ "$(psql -X -At -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$1'" \
        2>/dev/null)" = "1" ]
}

# dsync_start_server CONF DB LOG PIDFILE [WORKERS]: an Odoo server with WORKERS
# (default 2) HTTP workers in its own process group (it survives the calling
# shell); its pid goes to PIDFILE.
dsync_start_server() {
    local conf=$1 db=$2 log=$3 pidfile=$4 workers=${5:-2}
    setsid "$PYTHON" "$(dsync_launcher)" -c "$conf" -d "$db" --workers="$workers" \
        --logfile="$log" \
        </dev/null >>"$log.stdout" 2>&1 &
    echo $! >"$pidfile"
    echo "pid $(cat "$pidfile"), log $log"
}

# dsync_healthy URL: 0 when GET URL/dsync/health answers 200.
dsync_healthy() {
    "$PYTHON" -c 'import sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/dsync/health", timeout=5) as r:
    sys.exit(0 if r.status == 200 else 1)' "$1" >/dev/null 2>&1
}

# dsync_wait_healthy URL PIDFILE LOG TIMEOUT [HINT]: wait for the health route.
dsync_wait_healthy() {
    local url=$1 pidfile=$2 log=$3 timeout=$4 hint=${5:-}
    local started waited
    started=$(date +%s)
    until dsync_healthy "$url"; do
        waited=$(($(date +%s) - started))
        if ! kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null; then
            echo "---- last 40 lines of $log ----"
            tail -n 40 "$log" 2>/dev/null || true
            tail -n 20 "$log.stdout" 2>/dev/null || true
            dsync_die "the Odoo server exited during start-up"
        fi
        if [ "$waited" -ge "$timeout" ]; then
            echo "---- last 40 lines of $log ----"
            tail -n 40 "$log" 2>/dev/null || true
            dsync_die "GET $url/dsync/health did not answer 200 within ${timeout}s $hint"
        fi
        sleep 1
    done
    echo "GET /dsync/health: 200 after $(($(date +%s) - started))s"
}

# dsync_stop_server PIDFILE: TERM, then KILL after 30 s.
dsync_stop_server() {
    local pidfile=$1 pid
    pid=$(cat "$pidfile" 2>/dev/null) || return 0
    if ! kill -0 "$pid" 2>/dev/null; then
        rm -f "$pidfile"
        return 0
    fi
    echo "stopping Odoo server (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "still running after 30s: sending KILL to $pid"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}
