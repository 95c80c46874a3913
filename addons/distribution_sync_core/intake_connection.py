# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The webhook intake's own database connection: one per server process and
database, statements prepared once.

Odoo's pool resets every connection it lends (``DISCARD ALL``), so a request
plans each of its statements again. On the accept path planning costs more
than running: the event insert and the four foreign-key checks PostgreSQL
runs for it, and the check for a job that will dispatch the event. Measured
with pgbench, one insert transaction took 0.69 ms after a reset and 0.42 ms
without; the check 0.23 ms.

So the intake stores accepted deliveries through a connection of its own, in
autocommit mode: the insert is one round trip and its own (durable)
transaction, committed before the check runs and before the 202 is sent
(durably, unless the backend accepts that topic fast: ``fast_accept``).
Statements are prepared the first time a connection runs them.

Nothing depends on this connection being there. :func:`borrowed` yields
``None`` when the configuration turns it off (:func:`enabled`), when
another thread of the process holds it, in Odoo's test mode
(a test's data is only visible to the test's own cursor), or when it cannot
be opened; a statement that fails closes it. In each case the request uses
its own cursor, as before, and the next request opens a new connection.
"""

import contextlib
import logging
import os
import re
import threading

import psycopg2

from odoo.sql_db import connection_info_for
from odoo.tools import config, str2bool

_logger = logging.getLogger(__name__)

# (pid, database) -> IntakeConnection. The pid keeps a forked process from
# using, or closing, a connection its parent opened.
_connections = {}
_lock = threading.Lock()
_PARAM = re.compile(r"%%|%\((\w+)\)s|%s")


class IntakeConnection:
    """A psycopg2 connection in autocommit mode whose statements are
    prepared on first use (see :meth:`execute`)."""

    def __init__(self, dbname):
        _name, info = connection_info_for(dbname)
        # named apart from Odoo's own connections in pg_stat_activity
        name = info.get("application_name") or f"odoo-{os.getpid()}"
        info = dict(info, application_name=f"{name}-intake"[:63])
        self.cnx = psycopg2.connect(**info)
        self.cnx.autocommit = True
        self._cursor = self.cnx.cursor()
        self._prepared = {}  # query text -> (statement name, parameter names)
        self._fast = False

    def fast_commit(self, fast):
        """Commit the next statements without waiting for the disk flush
        (``synchronous_commit = off``) when ``fast``, else as the server is
        configured. One round trip, only when the mode changes."""
        if fast != self._fast:
            self._cursor.execute(
                "SET synchronous_commit TO off" if fast else "RESET synchronous_commit"
            )
            self._fast = fast

    def execute(self, query, params=()):
        """Run ``query`` (``%s`` or ``%(name)s`` parameters and ``%%``, as
        psycopg2 takes them) as a prepared statement of this connection,
        prepared the first time it runs that text: for a fixed set of
        statements, as the intake's."""
        prepared = self._prepared.get(query)
        if prepared is None:
            prepared = self._prepare(query)
        name, keys = prepared
        if keys:
            values = [params[key] for key in keys]
        else:
            values = list(params)
        placeholders = ", ".join(["%s"] * len(values))
        self._cursor.execute(
            f"EXECUTE {name}({placeholders})" if values else f"EXECUTE {name}",
            values,
        )
        return self._cursor

    def _prepare(self, query):
        keys, numbers = [], {}

        def number(match):
            if match.group(0) == "%%":
                return "%"
            key = match.group(1)
            if key is None:
                keys.append(None)
                return f"${len(keys)}"
            if key not in numbers:
                keys.append(key)
                numbers[key] = len(keys)
            return f"${numbers[key]}"

        text = _PARAM.sub(number, query)
        name = f"dsync_intake_{len(self._prepared) + 1}"
        self._cursor.execute(f"PREPARE {name} AS {text}")
        prepared = (name, keys if keys and keys[0] is not None else None)
        self._prepared[query] = prepared
        return prepared

    def fetchone(self):
        return self._cursor.fetchone()

    def close(self):
        with contextlib.suppress(psycopg2.Error):
            self.cnx.close()


def enabled():
    """False when the server configuration says ``dsync_intake_connection =
    False`` (a connection pooler in transaction mode, which keeps no
    prepared statement between transactions, or a tight
    ``max_connections``): every request then uses its own cursor."""
    return str2bool(str(config.get("dsync_intake_connection", True)), True)


@contextlib.contextmanager
def borrowed(registry):
    """This process's intake connection to ``registry``'s database, or None
    (see the module docstring). A ``psycopg2.Error`` raised inside closes
    the connection and propagates."""
    if not enabled() or registry.in_test_mode() or not _lock.acquire(blocking=False):
        yield None
        return
    try:
        key = (os.getpid(), registry.db_name)
        connection = _connections.get(key)
        if connection is None:
            try:
                connection = IntakeConnection(registry.db_name)
            except psycopg2.Error as err:
                _logger.warning(
                    "webhook intake: own connection to %s unavailable (%s); "
                    "requests use their own cursor",
                    registry.db_name,
                    err,
                )
                yield None
                return
            _connections[key] = connection
        try:
            yield connection
        except psycopg2.Error:
            _connections.pop(key, None)
            connection.close()
            raise
    finally:
        _lock.release()
