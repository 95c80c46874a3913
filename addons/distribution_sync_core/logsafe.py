# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Log lines of the sync never carry a payload (plain Python, no ORM).

Webhook bodies and the records built from them hold customers' names,
e-mails, phones and addresses; the server log keeps none of it, whatever
the masking and retention settings of the stored payloads say.

* :func:`stack_without_message` formats an error's stack with its type but
  not its text (``ValueError: invalid literal for int(): 'Jane Doe'``
  quotes the data that failed).
* :class:`SyncSqlLogFilter`, on Odoo's ``odoo.sql_db`` logger, rewrites the
  ``bad query`` line Odoo writes for a failing statement (the whole
  statement with its parameters: an event's payload, a customer's address)
  while the thread works for the sync: a webhook request, a queue job, or
  code inside :func:`sync_scope`. What is left names the error, its
  SQLSTATE, table, column and constraint. Lock, serialization and deadlock
  failures there are expected and handled (the row is skipped, the job
  retried): they are logged at INFO, not ERROR, which is kept for what a
  person must act on.
"""

import contextlib
import logging
import threading
import traceback

import psycopg2.errorcodes

# SQLSTATEs the sync handles by retrying or skipping: not a person's matter.
EXPECTED_CONCURRENCY_CODES = {
    psycopg2.errorcodes.SERIALIZATION_FAILURE,
    psycopg2.errorcodes.DEADLOCK_DETECTED,
    psycopg2.errorcodes.LOCK_NOT_AVAILABLE,
}
# Paths of the requests that work for the sync.
SYNC_PATHS = ("/dsync/", "/queue_job/runjob")

_local = threading.local()


def stack_without_message(err):
    """``err``'s traceback, its last line reduced to the error's type."""
    frames = traceback.format_tb(err.__traceback__)
    return "".join(frames) + type(err).__name__


@contextlib.contextmanager
def sync_scope():
    """Mark the current thread as working for the sync while inside."""
    depth = getattr(_local, "depth", 0)
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth = depth


def in_sync_scope():
    if getattr(_local, "depth", 0):
        return True
    url = getattr(threading.current_thread(), "url", None) or ""
    path = url.split("://", 1)[-1].partition("/")[2]
    return any(("/" + path).startswith(prefix) for prefix in SYNC_PATHS)


def describe_pg_error(err):
    """What a PostgreSQL error is, without the data it may quote."""
    parts = [type(err).__name__]
    code = getattr(err, "pgcode", None)
    if code:
        parts.append(f"SQLSTATE {code}")
    diag = getattr(err, "diag", None)
    for label in ("table_name", "column_name", "constraint_name"):
        value = getattr(diag, label, None) if diag is not None else None
        if value:
            parts.append(f"{label.split('_')[0]} {value}")
    return ", ".join(parts)


class SyncSqlLogFilter(logging.Filter):
    """See the module docstring; installed once on ``odoo.sql_db``."""

    def filter(self, record):
        if not (
            isinstance(record.msg, str)
            and record.msg.startswith("bad query")
            and in_sync_scope()
        ):
            return True
        err = record.args[-1] if isinstance(record.args, tuple) else None
        record.msg = "bad query (statement not logged: it may hold synced data): %s"
        record.args = (describe_pg_error(err),)
        if getattr(err, "pgcode", None) in EXPECTED_CONCURRENCY_CODES:
            record.levelno = logging.INFO
            record.levelname = logging.getLevelName(logging.INFO)
        return True


def install():
    logger = logging.getLogger("odoo.sql_db")
    if not any(isinstance(f, SyncSqlLogFilter) for f in logger.filters):
        logger.addFilter(SyncSqlLogFilter())
