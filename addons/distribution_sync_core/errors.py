# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Error vocabulary of the sync pipeline (plain Python, no ORM).

Processors and senders raise these; the pipeline turns them into retries,
exceptions or the ``stale`` state. Anything else that escapes a processor is
treated as a business failure of category ``processing_error`` so that it is
visible in the exception queue instead of failing a job silently.
"""

import random

import psycopg2.errorcodes

# PostgreSQL errors that mean "try again later", not "this data is wrong".
PG_TRANSIENT_CODES = {
    psycopg2.errorcodes.SERIALIZATION_FAILURE,
    psycopg2.errorcodes.DEADLOCK_DETECTED,
    psycopg2.errorcodes.LOCK_NOT_AVAILABLE,
}
# The server ended the session: administrator command (pg_terminate_backend),
# crash shutdown, cannot connect now.
PG_SESSION_ENDED_CODES = {
    psycopg2.errorcodes.ADMIN_SHUTDOWN,
    psycopg2.errorcodes.CRASH_SHUTDOWN,
    psycopg2.errorcodes.CANNOT_CONNECT_NOW,
}

CATEGORY_TEAMS = {
    "unknown_product": "warehouse",
    "missing_mapping": "it",
    "amount_mismatch": "finance",
    "conflict": "operations",
    "invalid_address": "customer_service",
    "platform_rejected": "operations",
    "retries_exhausted": "it",
    "invalid_payload": "it",
    "unsupported": "it",
    "processing_error": "it",
    "security": "it",
    "label_pending": "warehouse",
    "shipment_stuck": "customer_service",
    "missing_event": "operations",
    "unknown_reference": "operations",
    "quantity_mismatch": "warehouse",
    "short_shipped": "customer_service",
    "to_review": "operations",
}


class DsyncError(Exception):
    """Base class of the pipeline's own errors."""


class TransientError(DsyncError):
    """Network trouble, a lock, a 429 or a 5xx: retried with backoff."""

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class BusinessError(DsyncError):
    """Data that cannot be applied as it is: becomes a ``dsync.exception``.

    :param category: one of ``CATEGORY_TEAMS``' keys
    :param kind_key: what groups exceptions of one kind for "retry all"
        (a SKU, a carrier code...)
    :param team: owning team; defaults to the category's team
    :param record: an Odoo record the exception is about (optional)
    :param context: business context of the exception where it differs from
        its event's (same keys as a connector's ``_<type>_event_context``,
        e.g. ``{"skus": [the unknown SKU]}``)
    :param fix: what the exception's fix actions need, as JSON-able data
        (e.g. ``{"products": [{"sku", "name", "price"}]}`` for an unknown
        product, ``{"map_type", "code"}`` for a missing mapping, ``{"totals",
        "lines"}`` for an amount mismatch; see ``dsync.exception``)
    """

    def __init__(
        self,
        category,
        message,
        kind_key=None,
        team=None,
        severity="normal",
        record=None,
        details=None,
        context=None,
        fix=None,
    ):
        super().__init__(message)
        if category not in CATEGORY_TEAMS:
            raise ValueError(f"unknown exception category {category!r}")
        self.category = category
        self.message = message
        self.kind_key = kind_key
        self.team = team or CATEGORY_TEAMS[category]
        self.severity = severity
        self.record = record
        self.details = details
        self.context = context or {}
        self.fix = fix


class StaleEvent(DsyncError):
    """The event is older than what was already applied: recorded, not applied.

    Raised by a processor, it undoes what the processor did. Returned instead
    (``return StaleEvent(note)``), the event is recorded stale all the same
    and what the processor recorded is kept: older facts the processor kept
    as history, marked stale themselves (a tracker update that arrived late
    keeps its scans as stale milestones)."""


def is_connection_lost(exc, cr=None):
    """Tell whether ``exc`` means the database connection is gone (dropped,
    terminated, the server restarting), or ``cr``'s connection is closed.

    Such an error ends the transaction: nothing a job did in it is kept, and
    no savepoint or fallback can go on with it. It must reach the job's
    entry point, which hands the job back to queue_job to run again."""
    if isinstance(exc, psycopg2.InterfaceError):
        return True
    if isinstance(exc, psycopg2.OperationalError):
        code = exc.pgcode
        # psycopg2 gives no code when the socket itself failed
        if code is None or code.startswith("08") or code in PG_SESSION_ENDED_CODES:
            return True
    connection = getattr(cr, "_cnx", None)
    return bool(connection is not None and connection.closed)


def is_transient(exc):
    """Tell whether ``exc`` deserves a retry rather than an exception."""
    if isinstance(exc, TransientError):
        return True
    pgcode = getattr(exc, "pgcode", None)
    if pgcode and pgcode in PG_TRANSIENT_CODES:
        return True
    try:
        import requests
    except ImportError:  # pragma: no cover - requests is a hard requirement
        return False
    return isinstance(exc, requests.ConnectionError | requests.Timeout)


def backoff_seconds(attempt, base=30, cap=3600, rng=random):
    """Exponential backoff with full jitter kept in [50 %, 100 %] of the step.

    ``attempt`` counts from 1. The step doubles each attempt up to ``cap``;
    the jitter spreads retries of many messages failing together.
    """
    step = min(cap, base * (2 ** max(0, attempt - 1)))
    return max(1, int(step * rng.uniform(0.5, 1.0)))


class DuplicateEvent(DsyncError):
    """The same external version was already applied: recorded, not re-applied."""
