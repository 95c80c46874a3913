#!/usr/bin/env bash
# The test command of Distribution Sync:
#
#     bash tools/test.sh [extra pytest args, e.g. -k outbox -x]
#
# 1. checks that Odoo 18.0 is importable, 2. pip-installs requirements.txt,
# 3. writes a throw-away server config in .run/, 4. installs the addons (with demo
# data) into a fresh database, 5. fails on any WARNING/ERROR in the install log,
# 6. runs the Odoo tests of every addon and the cross-addon tests with pytest-odoo.
# Any failed, errored or *skipped* test, or no test at all, fails the run.
#
# Environment (see also tools/common.sh):
#   DSYNC_TEST_DB          database name (default: dsync_test); dropped and recreated
#   DSYNC_TEST_PATHS       space-separated pytest paths
#                          (default: addons/*/tests and tests/ of this repository)
#   DSYNC_TEST_LOG_LEVEL   Odoo log level inside pytest (default: warn)
#   DSYNC_NO_BROWSER_INSTALL=1  never apt-get install chromium for browser tours
#   DSYNC_TEST_PORT        HTTP port of the test server (default: 8069); set it to
#                          run two suites at once on one machine
set -euo pipefail

# shellcheck source=tools/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$DSYNC_ROOT"

DB="${DSYNC_TEST_DB:-dsync_test}"
CONF="$DSYNC_RUN_DIR/odoo.conf"
INSTALL_LOG="$DSYNC_RUN_DIR/install-$DB.log"

dsync_section "Odoo 18.0"
dsync_check_odoo

dsync_section "Python requirements (requirements.txt)"
dsync_pip_install

dsync_section "Server config ($CONF)"
TEST_PORT="${DSYNC_TEST_PORT:-8069}"
dsync_write_config "$CONF" "$DB" "http_port = $TEST_PORT" "gevent_port = $((TEST_PORT + 3))"

# Every addon of the repository must be installed and tested: a new addon directory
# that is not in the default list would silently go untested.
if [ -z "${DSYNC_ADDONS_OVERRIDDEN:-}" ]; then
    for manifest in addons/*/__manifest__.py; do
        [ -f "$manifest" ] || continue
        name=$(basename "$(dirname "$manifest")")
        case ",$DSYNC_ADDONS," in
        *",$name,"*) ;;
        *) dsync_die "addons/$name is not in the default DSYNC_ADDONS of tools/common.sh: \
add it there so that it is installed and tested" ;;
        esac
    done
fi

# pytest paths: the tests/ of each installed addon of this repository, and the
# cross-addon tests/ directory.
if [ -n "${DSYNC_TEST_PATHS:-}" ]; then
    read -r -a TEST_PATHS <<<"$DSYNC_TEST_PATHS"
else
    TEST_PATHS=()
    IFS=',' read -r -a _addons <<<"$DSYNC_ADDONS"
    for name in "${_addons[@]}"; do
        [ -d "addons/$name/tests" ] && TEST_PATHS+=("addons/$name/tests")
    done
    [ -d tests ] && TEST_PATHS+=(tests)
fi
[ "${#TEST_PATHS[@]}" -gt 0 ] || dsync_die "no test directory found"

# Browser tours (HttpCase.start_tour / browser_js) are skipped by Odoo when no Chromium
# is found, and a skipped test fails the run: install Debian's chromium when needed.
if grep -rqsE --include='*.py' 'start_tour|browser_js' "${TEST_PATHS[@]}"; then
    dsync_section "Browser for tours"
    if command -v chromium >/dev/null || command -v google-chrome >/dev/null \
        || command -v chromium-browser >/dev/null; then
        echo "browser: $(command -v chromium || command -v google-chrome \
            || command -v chromium-browser)"
    elif [ "${DSYNC_NO_BROWSER_INSTALL:-0}" != "1" ] && [ "$(id -u)" = 0 ] \
        && command -v apt-get >/dev/null; then
        echo "tours found and no Chromium: installing Debian's chromium"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
        command -v chromium
    else
        dsync_die "the tests contain browser tours but no Chromium/Chrome is installed \
(Debian: apt-get install chromium); Odoo would skip them"
    fi
fi

# The deployment test runs the reverse-proxy configuration in a real nginx.
if grep -rqsE --include='*.py' 'nginx_binary\(' "${TEST_PATHS[@]}"; then
    dsync_section "Reverse proxy for the deployment test"
    if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
        echo "nginx: $(command -v nginx || echo /usr/sbin/nginx)"
    elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "the deployment test needs nginx: installing Debian's nginx-light"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
    else
        dsync_die "the tests run the reverse-proxy configuration in nginx, which is \
not installed (Debian: apt-get install nginx-light)"
    fi
fi

dsync_section "Fresh database '$DB' with ${DSYNC_ADDONS} (+ demo data)"
dropdb --if-exists --force "$DB"
rm -rf "$DSYNC_RUN_DIR/data/filestore/$DB"
INSTALL_T0=$(date +%s)
dsync_install_db "$CONF" "$DB" "$INSTALL_LOG"
INSTALL_SECONDS=$(($(date +%s) - INSTALL_T0))
echo "installed in ${INSTALL_SECONDS}s ($(wc -l <"$INSTALL_LOG") log lines)"

dsync_section "Install log and module states"
"$PYTHON" tools/check_install_log.py "$INSTALL_LOG"
dsync_check_installed "$DB"

dsync_section "pytest ${TEST_PATHS[*]} $*"
# queue_job's runner would start inside pytest-odoo's HTTP server (queue_job is a
# server-wide module): tests drive jobs themselves (trap_jobs / queue_job__no_delay),
# so keep the runner off in the test process.
export TZ=UTC  # as odoo-bin does
export ODOO_QUEUE_JOB_CHANNELS="${DSYNC_TEST_QUEUE_JOB_CHANNELS:-root:0}"
TEST_T0=$(date +%s)
rc=0
"$PYTHON" -m pytest \
    --odoo-config="$CONF" \
    --odoo-database="$DB" \
    --odoo-http \
    --odoo-log-level="${DSYNC_TEST_LOG_LEVEL:-warn}" \
    -p no:cacheprovider \
    "${TEST_PATHS[@]}" "$@" || rc=$?
TEST_SECONDS=$(($(date +%s) - TEST_T0))

dsync_section "Result"
echo "install: ${INSTALL_SECONDS}s, tests: ${TEST_SECONDS}s, total: $(($(date +%s) - _DSYNC_T0))s"
if [ "$rc" = 5 ]; then
    echo "FAILED: pytest collected no test (exit status 5)" >&2
    exit 1
elif [ "$rc" != 0 ]; then
    echo "FAILED: pytest exit status $rc" >&2
    exit "$rc"
fi
echo "OK"
