# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Webhook intake: what every connector route does before any processing.

A route hands the raw request to :func:`accept` with two connector-specific
callables:

* ``verify(secrets, raw_body, headers)`` returns True when the delivery is
  authentic (HMAC on the raw body, compared in constant time);
* ``describe(payload, headers)`` returns a :class:`Delivery` (topic, dedup
  key, source timestamp) or raises ``ValueError`` for a body that is valid
  JSON but not a delivery of this platform.

:func:`accept` answers exactly as DESIGN.md lists, stores one ``dsync.event``
row for everything that reaches a known backend (rejected ones included, with
``dedup_key`` left empty so that a later, valid redelivery is not mistaken for
a duplicate), and wakes the backend's dispatch job unless a job of the backend
is already sure to queue the event. Nothing slow runs here. Accepted
deliveries are stored through the server process's own intake connection
(``intake_connection``, statements prepared once) when it has one, else with
the request's cursor.
"""

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from datetime import datetime, timezone

import psycopg2
from psycopg2.extensions import TRANSACTION_STATUS_IDLE
from werkzeug.wrappers import Response

from odoo.tools import config

from . import intake_connection
from .models.dsync_backend import ROUTE_FIELDS, UnknownRouteToken, will_dispatch

_logger = logging.getLogger(__name__)
_security_logger = logging.getLogger(__name__ + ".security")

DEFAULT_MAX_BODY = 2 * 1024 * 1024
KEPT_BODY_ON_413 = 64 * 1024


@dataclasses.dataclass
class Delivery:
    topic: str
    dedup_key: str
    source_timestamp: datetime | None = None
    correlation_id: str | None = None


def parse_utc(value):
    """An ISO 8601 time from a platform as a naive UTC datetime (or None)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


# --------------------------------------------------------------------------
# signatures
# --------------------------------------------------------------------------
def hmac_sha256(secret, message):
    if isinstance(secret, str):
        secret = secret.encode()
    return hmac.new(secret, message, hashlib.sha256).digest()


def verify_base64_hmac(secret, raw_body, signature):
    """Shopify style: base64(HMAC-SHA256(secret, raw body))."""
    if not secret or not signature:
        return False
    expected = base64.b64encode(hmac_sha256(secret, raw_body)).decode()
    return hmac.compare_digest(expected, signature.strip())


def verify_hex_hmac(secret, message, signature, prefix=""):
    """``<prefix><hex HMAC-SHA256(secret, message)>`` compared in constant time."""
    if not secret or not signature:
        return False
    expected = prefix + hmac_sha256(secret, message).hex()
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


# --------------------------------------------------------------------------
# per-backend inbound rate limit (token bucket, per server process)
# --------------------------------------------------------------------------
class RateLimiter:
    """Token buckets keyed by (database, backend id).

    The limit is per minute and per Odoo server process: with N workers the
    platform can send up to N times the limit in the worst case, which is what
    the limit guards against (a flood), not an exact quota.
    """

    def __init__(self, max_keys=10000):
        self._buckets = OrderedDict()
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def allow(self, key, per_minute, now=None):
        """Return 0 when allowed, else the seconds to wait before retrying."""
        if not per_minute or per_minute <= 0:
            return 0
        now = time.monotonic() if now is None else now
        rate = per_minute / 60.0
        with self._lock:
            tokens, stamp, limit = self._buckets.pop(key, (per_minute, now, per_minute))
            if limit != per_minute:  # the limit was changed: start afresh
                tokens, limit = per_minute, per_minute
            tokens = min(per_minute, tokens + (now - stamp) * rate)
            if tokens >= 1:
                tokens -= 1
                wait = 0
            else:
                wait = max(1, int((1 - tokens) / rate + 0.999))
            self._buckets[key] = (tokens, now, limit)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        return wait

    def reset(self):
        with self._lock:
            self._buckets.clear()


rate_limiter = RateLimiter()


# --------------------------------------------------------------------------
# responses
# --------------------------------------------------------------------------
def json_response(status, body, headers=None):
    return Response(
        json.dumps(body),
        status=status,
        headers=headers or {},
        content_type="application/json",
    )


def max_body_bytes():
    try:
        return int(config.get("dsync_max_body_bytes") or DEFAULT_MAX_BODY)
    except (TypeError, ValueError):
        return DEFAULT_MAX_BODY


def _read_body(httprequest, limit):
    """Read the body without ever holding more than ``limit + 1`` bytes.

    Returns (bytes kept, too big, size). A body whose Content-Length is over
    the limit is not read past its first 64 KiB (kept as the trace).
    """
    # Odoo's request wrapper hides werkzeug's stream; the bounded read needs it.
    stream = getattr(httprequest, "_HTTPRequest__wrapped", httprequest).stream
    length = httprequest.content_length
    if length is not None and length > limit:
        return stream.read(KEPT_BODY_ON_413), True, length
    raw = stream.read(limit + 1)
    return raw, len(raw) > limit, len(raw)


# --------------------------------------------------------------------------
# the accept path
# --------------------------------------------------------------------------
def _find_backend(env, backend_type, token):
    """The backend's ROUTE_FIELDS as a dict, or None for an unknown token."""
    try:
        row = env["dsync.backend"]._dsync_route_backend(backend_type, token)
    except UnknownRouteToken:
        return None
    return dict(zip(ROUTE_FIELDS, row, strict=True))


def accept(
    request, backend_type, token, verify, describe, kept_headers=(), topic_header=None
):
    """Answer one webhook delivery; see the module docstring.

    ``kept_headers`` are stored with the event; ``topic_header`` names the
    header that carries the topic, used to label rejected deliveries.
    """
    httprequest = request.httprequest
    env = request.env(su=True)
    cr = env.cr
    remote = httprequest.remote_addr
    try:
        backend = _find_backend(env, backend_type, token or "")
        if not backend:
            _security_logger.warning(
                "%s webhook with an unknown backend token from %s", backend_type, remote
            )
            return json_response(404, {"error": "unknown backend"})
        headers = {
            name: httprequest.headers.get(name)
            for name in kept_headers
            if httprequest.headers.get(name) is not None
        }
        backend_id = backend["id"]
        store = _EventWriter(env, backend, headers, topic_header)
        limit = max_body_bytes()
        raw, too_big, size = _read_body(httprequest, limit)

        if not backend["active"]:
            store.reject(raw, "backend disabled", 503)
            return json_response(
                503, {"error": "backend disabled"}, {"Retry-After": "300"}
            )
        wait = rate_limiter.allow(
            (cr.dbname, backend_id), backend["inbound_rate_limit"]
        )
        if wait:
            _logger.warning(
                "backend %s: inbound rate limit exceeded, answered 429", backend_id
            )
            return json_response(
                429, {"error": "rate limit exceeded"}, {"Retry-After": str(wait)}
            )
        if too_big:
            store.reject(
                raw[:KEPT_BODY_ON_413],
                f"body of {size} bytes is over the {limit} bytes limit "
                f"(first {KEPT_BODY_ON_413} bytes kept)",
                413,
                size=size,
            )
            return json_response(413, {"error": "body too large", "limit": limit})
        secrets = env["dsync.backend"].browse(backend_id)._dsync_webhook_secrets()
        if not verify(secrets, raw, httprequest.headers):
            _security_logger.warning(
                "%s webhook with a bad signature for backend %s from %s",
                backend_type,
                backend_id,
                remote,
            )
            store.reject(raw, "bad signature", 401)
            return json_response(401, {"error": "bad signature"})
        try:
            payload = json.loads(raw)
            delivery = describe(payload, httprequest.headers)
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            store.reject(raw, f"unparseable body: {err}", 400)
            return json_response(400, {"error": "unparseable body"})
        event_id, duplicate = _store_and_wake(env, store, raw, delivery, backend_type)
        if duplicate:
            return json_response(200, {"status": "duplicate", "event": event_id})
        return json_response(202, {"status": "accepted", "event": event_id})
    except Exception:
        # Whatever happened, the platform gets a retryable answer and no
        # traceback; the error is in the server log for IT.
        _logger.exception("%s webhook intake failed", backend_type)
        cr.rollback()
        return json_response(
            503, {"error": "temporarily unavailable"}, {"Retry-After": "60"}
        )


def _store_and_wake(env, store, raw, delivery, backend_type):
    """Store an accepted delivery and make sure a job will dispatch it:
    (event id, duplicate).

    Through the process's intake connection (see ``intake_connection``):
    the insert commits on its own, without waiting for the disk flush when
    the backend accepts this topic fast (``fast_accept``), then
    the check runs there; a wake-up, when needed, is queued on the
    request's cursor, which Odoo commits before answering.

    Without that connection, or when one of its statements fails, on the
    request's cursor (durably in every case). After such a failure the
    insert may have committed before the connection broke: the request's
    insert then finds it as a duplicate, and wakes the dispatcher all the
    same."""
    backend_id = store.backend["id"]
    stored = None
    try:
        with intake_connection.borrowed(env.registry) as own:
            if own is not None:
                fast_topics = env["dsync.backend"]._dsync_route_fast_topics(backend_id)
                own.fast_commit(delivery.topic in fast_topics)
                event_id, duplicate = store.insert(raw, delivery, own)
                due = duplicate or will_dispatch(own, backend_type, backend_id)
                stored = event_id, duplicate, due
    except psycopg2.Error:
        _logger.warning(
            "backend %s: the intake connection failed; the request's cursor "
            "stores the delivery",
            backend_id,
            exc_info=True,
        )
        stored = False
    if stored:
        event_id, duplicate, due = stored
        _wake_unless_due(env, backend_id, lambda: due)
        return event_id, duplicate
    event_id, duplicate = store.insert(raw, delivery)
    if stored is False or not duplicate:
        _wake_after_commit(env, backend_type, backend_id)
    return event_id, duplicate


def _wake_after_commit(env, backend_type, backend_id):
    """Commit the stored event, then wake the dispatch job unless a job of
    the backend is sure to dispatch the event (:func:`will_dispatch`).

    In this order no wake-up is lost: a job found due or running has not
    scanned the received events yet, so its scan sees this event. Checked
    before the event's commit, a job could take its snapshot in between and
    miss the event, which would then wait for the safety cron.
    """
    env.cr.commit()

    def due():
        with outside_transaction(env.cr):
            return will_dispatch(env.cr, backend_type, backend_id)

    _wake_unless_due(env, backend_id, due)


def _wake_unless_due(env, backend_id, due):
    """Wake the backend's dispatcher unless ``due()``. The event is stored
    whatever happens here: a failure is logged and left to the safety cron."""
    try:
        if not due():
            env["dsync.backend"].browse(backend_id)._dsync_wake_dispatcher()
    except Exception:
        _logger.exception(
            "backend %s: event stored, dispatcher not woken (the cron will)",
            backend_id,
        )
        env.cr.rollback()


@contextlib.contextmanager
def outside_transaction(cr):
    """Run read-only statements of a committed cursor outside any transaction
    (autocommit, as Odoo's own ``service.db`` does): each sees what is
    committed when it runs, and no BEGIN and COMMIT round trips wrap them.
    The cursor is back in transaction mode afterwards, whatever happens.

    A cursor whose commit left a transaction open (Odoo's test cursor, whose
    commit is a savepoint) runs them inside it, as before the commit."""
    connection = cr._cnx
    if connection.info.transaction_status != TRANSACTION_STATUS_IDLE:
        yield cr
        return
    connection.autocommit = True
    try:
        yield cr
    finally:
        connection.autocommit = False


def body_as_text(raw):
    """(text, is_base64): UTF-8 text as it is; anything PostgreSQL's text
    cannot hold (invalid UTF-8, NUL bytes) is kept whole, base64-encoded."""
    if not raw:
        return "", False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        return base64.b64encode(raw).decode(), True
    return text, False


class _EventWriter:
    """Writes ``dsync.event`` rows with one statement each (hot path)."""

    COLUMNS = (
        "backend_id, company_id, topic, payload, payload_base64, payload_size, "
        "headers, "
        "dedup_key, delivery_id, source_timestamp, correlation_id, state, "
        "reject_reason, http_status, duplicate_count, "
        "create_uid, create_date, write_uid, write_date"
    )

    def __init__(self, env, backend, headers, topic_header=None):
        self.topic_header = topic_header
        self.env = env
        self.cr = env.cr
        self.backend = backend
        self.headers = headers

    def _values(
        self,
        raw,
        topic,
        dedup_key,
        delivery_id,
        source_ts,
        corr,
        state,
        reason=None,
        status=None,
        size=None,
    ):
        text, is_base64 = body_as_text(raw)
        uid = self.env.uid
        return (
            self.backend["id"],
            self.backend["company_id"],
            topic,
            text,
            is_base64,
            len(raw or b"") if size is None else size,
            json.dumps(self.headers),
            dedup_key,
            delivery_id,
            source_ts,
            corr or uuid.uuid4().hex,
            state,
            reason,
            status,
            0,
            uid,
            uid,
        )

    def reject(self, raw, reason, status, size=None):
        values = self._values(
            raw,
            self.headers.get(self.topic_header or "") or "unknown",
            None,
            None,
            None,
            None,
            "rejected",
            reason,
            status,
            size,
        )
        self.cr.execute(
            f"INSERT INTO dsync_event ({self.COLUMNS}) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s, %s, %s,"
            " %s, now() at time zone 'UTC', %s, now() at time zone 'UTC')",
            values,
        )

    def insert(self, raw, delivery, cr=None):
        """Insert the event with ``cr`` (default: the request's cursor);
        return (id, True) when it is a redelivery."""
        cr = cr or self.cr
        values = self._values(
            raw,
            delivery.topic,
            delivery.dedup_key,
            delivery.dedup_key,
            delivery.source_timestamp,
            delivery.correlation_id,
            "received",
            None,
            202,
        )
        cr.execute(
            f"INSERT INTO dsync_event ({self.COLUMNS}) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s, %s, %s,"
            " %s, now() at time zone 'UTC', %s, now() at time zone 'UTC')"
            " ON CONFLICT (backend_id, dedup_key) DO NOTHING RETURNING id",
            values,
        )
        row = cr.fetchone()
        if row:
            return row[0], False
        cr.execute(
            """UPDATE dsync_event
                  SET duplicate_count = duplicate_count + 1,
                      last_duplicate_at = now() at time zone 'UTC'
                WHERE backend_id = %s AND dedup_key = %s
            RETURNING id""",
            (self.backend["id"], delivery.dedup_key),
        )
        return cr.fetchone()[0], True
