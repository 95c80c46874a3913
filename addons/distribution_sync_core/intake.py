# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Webhook intake: what every connector route does before any processing.

A route (``type="dsync_webhook"``, see ``webhook_dispatcher``: Odoo does not
read its body) hands the raw request to :func:`accept` with two
connector-specific callables:

* ``verify(secrets, raw_body, headers)`` returns True when the delivery is
  authentic (HMAC on the raw body, compared in constant time);
* ``describe(payload, headers, route)`` returns a :class:`Delivery` (topic,
  dedup key, source timestamp) or raises :class:`InvalidDelivery` for a body
  that is valid JSON but not a delivery of this platform: a topic the
  connector does not accept, a body without the shape of its topic, a value
  out of bounds. ``route`` gives the environment and the backend.

:func:`accept` answers exactly as DESIGN.md lists, stores one ``dsync.event``
row for everything that reaches a known backend (rejected ones included, with
``dedup_key`` left empty so that a later, valid redelivery is not mistaken for
a duplicate), and wakes the backend's dispatch job unless a job of the backend
is already sure to queue the event. Nothing slow runs here. Accepted
deliveries are stored through the server process's own intake connection
(``intake_connection``, statements prepared once) when it has one, else with
the request's cursor.

Every value taken from a header or the body is bounded and checked before
it reaches SQL (length, characters, type, date range, JSON nesting): what
cannot be stored as it is gets 400 and is kept as a *rejected* event with
the reason. Only a fault of our own (the database unreachable) answers 503.
No log line carries a payload or a header's value beyond a bounded label.
"""

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import re
import threading
import time
import uuid
from collections import OrderedDict
from datetime import datetime, timezone

import psycopg2
from psycopg2.extensions import TRANSACTION_STATUS_IDLE
from werkzeug.exceptions import ClientDisconnected
from werkzeug.wrappers import Response

from odoo.tools import config

from . import intake_connection, webhook_dispatcher  # noqa: F401 (route type)
from .dispatcher import will_dispatch
from .logsafe import stack_without_message, sync_scope
from .models.dsync_backend import ROUTE_FIELDS, UnknownRouteToken

_logger = logging.getLogger(__name__)
_security_logger = logging.getLogger(__name__ + ".security")

DEFAULT_MAX_BODY = 2 * 1024 * 1024
KEPT_BODY_ON_413 = 64 * 1024
READ_CHUNK = 64 * 1024
# Bounds of what a delivery may carry into the inbox.
MAX_TOPIC_LENGTH = 100
MAX_ID_LENGTH = 255
MAX_JSON_DEPTH = 64
MAX_KEPT_HEADER_LENGTH = 512
MAX_LABEL_LENGTH = 64
# A delivery's sequence number (PostgreSQL integer).
MAX_SEQUENCE = 2**31 - 1
# Source times outside this range are not a platform's clock.
EARLIEST_SOURCE_TIME = datetime(1970, 1, 1)
LATEST_SOURCE_TIME = datetime(2200, 1, 1)
# What a route token looks like (secrets.token_urlsafe: 43 characters).
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,128}")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class InvalidDelivery(ValueError):
    """A delivery that cannot be stored as it is: answered 400 and kept as a
    rejected event, with this text (which never quotes the value) as its
    reason."""


@dataclasses.dataclass
class Delivery:
    """What a connector's ``describe`` makes of a delivery.

    ``sequence_key`` and ``sequence``: the delivery is number ``sequence``
    (from 1) of the events about ``sequence_key`` (an order reference...);
    the core applies the events of one key in that order (see
    ``dsync.event`` and its sequencing)."""

    topic: str
    dedup_key: str
    source_timestamp: datetime | None = None
    correlation_id: str | None = None
    sequence_key: str | None = None
    sequence: int | None = None


@dataclasses.dataclass
class Route:
    """What ``describe`` may need of the request: the (superuser)
    environment and the backend's route fields (``ROUTE_FIELDS``)."""

    env: object
    backend: dict


def label(value, max_length=MAX_LABEL_LENGTH):
    """A bounded, printable rendering of an untrusted value, for a log line
    or the topic of a rejected event."""
    text = _CONTROL_CHARACTERS.sub("", str(value or "")).strip()
    if len(text) > max_length:
        text = text[: max_length - 1] + "…"
    return text


def text_value(value, what, max_length=MAX_ID_LENGTH, required=True):
    """``value`` (a string or an integer, from a header or the body) as a
    stripped, printable string of at most ``max_length`` characters; None
    when absent and not ``required``. Raises :class:`InvalidDelivery`."""
    if value is None or value == "":
        if required:
            raise InvalidDelivery(f"{what} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidDelivery(f"{what} must be a string")
    text = str(value).strip()
    if not text:
        raise InvalidDelivery(f"{what} is empty")
    if len(text) > max_length:
        raise InvalidDelivery(f"{what} is longer than {max_length} characters")
    if not text.isprintable():
        raise InvalidDelivery(f"{what} holds control characters")
    return text


def parse_utc(value, what="timestamp"):
    """An ISO 8601 time from a platform as a naive UTC datetime (or None).
    Raises :class:`InvalidDelivery` for anything else, or a time outside
    1970-2199."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidDelivery(f"{what} is not an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if parsed.tzinfo:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError) as err:
        raise InvalidDelivery(f"{what} is not an ISO 8601 time") from err
    if not EARLIEST_SOURCE_TIME <= parsed < LATEST_SOURCE_TIME:
        raise InvalidDelivery(f"{what} is out of range")
    return parsed


def json_object(raw):
    """The body parsed as a JSON object nested at most MAX_JSON_DEPTH deep.
    Raises :class:`InvalidDelivery`."""
    try:
        payload = json.loads(raw)
    except RecursionError as err:
        raise InvalidDelivery("body is nested too deeply") from err
    except ValueError as err:
        raise InvalidDelivery("body is not JSON") from err
    if not isinstance(payload, dict):
        raise InvalidDelivery("body is not a JSON object")
    if not nested_within(payload, MAX_JSON_DEPTH):
        raise InvalidDelivery(f"body is nested deeper than {MAX_JSON_DEPTH} levels")
    return payload


def nested_within(value, limit):
    """True when ``value`` has no more than ``limit`` levels of objects and
    arrays. Level by level, without recursion: a bomb cannot exhaust the
    stack here (and a Shopify order is walked in some 20 µs)."""
    level, depth = [value], 1
    while level:
        if depth > limit:
            return False
        deeper = []
        for node in level:
            for child in node.values() if type(node) is dict else node:
                kind = type(child)
                if kind is dict or kind is list:
                    deeper.append(child)
        level, depth = deeper, depth + 1
    return True


def event_in_body(payload, topics, topic_key, data_key, what):
    """(event id, topic) of a platform event that carries both in its body:
    ``{"id", <topic_key>, <data_key>: {...}}``, its topic one of
    ``topics``. Raises :class:`InvalidDelivery`."""
    event_id = text_value(payload.get("id"), "event id")
    topic = text_value(payload.get(topic_key), f"event {what}", MAX_TOPIC_LENGTH)
    if topic not in topics:
        raise InvalidDelivery(f"the event {what} is not one this backend accepts")
    if not isinstance(payload.get(data_key), dict):
        raise InvalidDelivery(f"the event has no {data_key!r} object")
    return event_id, topic


def check_delivery(delivery):
    """Bound what a connector's ``describe`` returned (InvalidDelivery)."""
    delivery.topic = text_value(delivery.topic, "topic", MAX_TOPIC_LENGTH)
    delivery.dedup_key = text_value(delivery.dedup_key, "delivery id")
    delivery.correlation_id = text_value(
        delivery.correlation_id, "correlation id", required=False
    )
    delivery.sequence_key = text_value(
        delivery.sequence_key, "sequence key", required=False
    )
    sequence = delivery.sequence
    if delivery.sequence_key is None:
        delivery.sequence = None
    elif (
        isinstance(sequence, bool)
        or not isinstance(sequence, int)
        or not 1 <= sequence <= MAX_SEQUENCE
    ):
        raise InvalidDelivery(f"sequence must be an integer from 1 to {MAX_SEQUENCE}")
    stamp = delivery.source_timestamp
    if stamp is not None and not (
        isinstance(stamp, datetime)
        and EARLIEST_SOURCE_TIME <= stamp < LATEST_SOURCE_TIME
    ):
        raise InvalidDelivery("source time is out of range")
    return delivery


# --------------------------------------------------------------------------
# signatures
# --------------------------------------------------------------------------
def hmac_sha256(secret, message):
    if isinstance(secret, str):
        secret = secret.encode()
    return hmac.new(secret, message, hashlib.sha256).digest()


# A signature header longer than this is not one (SHA-256: 44 base64 or 64
# hex characters, plus a prefix).
MAX_SIGNATURE_LENGTH = 256


def _signature_bytes(signature):
    """The header's value as bytes for a constant-time comparison, or None.
    Header values are latin-1 text in WSGI: any byte of it compares (and
    fails) instead of raising."""
    if not signature or len(signature) > MAX_SIGNATURE_LENGTH:
        return None
    return signature.strip().encode("latin-1", "replace")


def verify_base64_hmac(secret, raw_body, signature):
    """Shopify style: base64(HMAC-SHA256(secret, raw body))."""
    signature = _signature_bytes(signature)
    if not secret or not signature:
        return False
    expected = base64.b64encode(hmac_sha256(secret, raw_body))
    return hmac.compare_digest(expected, signature)


def verify_hex_hmac(secret, message, signature, prefix=""):
    """``<prefix><hex HMAC-SHA256(secret, message)>`` compared in constant time."""
    signature = _signature_bytes(signature)
    if not secret or not signature:
        return False
    expected = (prefix + hmac_sha256(secret, message).hex()).encode()
    return hmac.compare_digest(expected, signature)


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

    Returns (bytes kept, problem, size): ``problem`` is None, ``"too big"``
    (a body whose Content-Length is over the limit is not read past its
    first 64 KiB, kept as the trace) or ``"incomplete"`` (the client went
    away, or stalled past the server's timeout, before sending the
    Content-Length it announced: what arrived is kept).
    """
    # Odoo's request wrapper hides werkzeug's stream; the bounded read needs it.
    stream = getattr(httprequest, "_HTTPRequest__wrapped", httprequest).stream
    length = httprequest.content_length
    wanted = KEPT_BODY_ON_413 if length is not None and length > limit else limit + 1
    chunks, size = [], 0
    try:
        while size < wanted:
            # readline, not read: a short read of the socket gives what
            # arrived (werkzeug's read drops it and raises)
            chunk = stream.readline(min(READ_CHUNK, wanted - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (ClientDisconnected, OSError):
        return b"".join(chunks), "incomplete", length
    raw = b"".join(chunks)
    if length is not None and length > limit:
        return raw, "too big", length
    return raw, ("too big" if size > limit else None), size


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
    remote = label(httprequest.remote_addr)
    if httprequest.method != "POST":
        # only POST delivers (werkzeug also routes OPTIONS to the endpoint)
        return json_response(405, {"error": "method not allowed"}, {"Allow": "POST"})
    if not TOKEN_PATTERN.fullmatch(token or ""):
        _security_logger.warning(
            "%s webhook with a malformed backend token from %s", backend_type, remote
        )
        return json_response(404, {"error": "unknown backend"})
    env = request.env(su=True)
    cr = env.cr
    try:
        with sync_scope():
            return _accept(
                env,
                httprequest,
                backend_type,
                token,
                verify,
                describe,
                kept_headers,
                topic_header,
            )
    except Exception as err:
        # Only a fault of our own gets here (the database unreachable): the
        # platform gets a retryable answer; the log gets the stack, not the
        # error's text (it may quote the payload).
        _logger.error(
            "%s webhook intake failed (%s), answered 503\n%s",
            backend_type,
            type(err).__name__,
            stack_without_message(err),
        )
        with contextlib.suppress(psycopg2.Error):
            cr.rollback()
        return json_response(
            503, {"error": "temporarily unavailable"}, {"Retry-After": "60"}
        )


def _accept(
    env, httprequest, backend_type, token, verify, describe, kept_headers, topic_header
):
    remote = label(httprequest.remote_addr)
    backend = _find_backend(env, backend_type, token)
    if not backend:
        _security_logger.warning(
            "%s webhook with an unknown backend token from %s", backend_type, remote
        )
        return json_response(404, {"error": "unknown backend"})
    headers = {
        name: label(value, MAX_KEPT_HEADER_LENGTH)
        for name in kept_headers
        if (value := httprequest.headers.get(name)) is not None
    }
    backend_id = backend["id"]
    store = _EventWriter(env, backend, headers, topic_header)
    limit = max_body_bytes()
    raw, problem, size = _read_body(httprequest, limit)

    if not backend["active"]:
        store.reject(raw, "backend disabled", 503)
        return json_response(503, {"error": "backend disabled"}, {"Retry-After": "300"})
    wait = rate_limiter.allow(
        (env.cr.dbname, backend_id), backend["inbound_rate_limit"]
    )
    if wait:
        _logger.warning(
            "backend %s: inbound rate limit exceeded, answered 429", backend_id
        )
        return json_response(
            429, {"error": "rate limit exceeded"}, {"Retry-After": str(wait)}
        )
    if problem == "too big":
        store.reject(
            raw[:KEPT_BODY_ON_413],
            f"body of {size} bytes is over the {limit} bytes limit "
            f"(first {KEPT_BODY_ON_413} bytes kept)",
            413,
            size=size,
        )
        return json_response(413, {"error": "body too large", "limit": limit})
    if problem == "incomplete":
        _logger.warning(
            "backend %s: %s webhook from %s ended before its body was complete",
            backend_id,
            backend_type,
            remote,
        )
        store.reject(
            raw,
            f"body incomplete: the client sent {len(raw)} of {size} bytes",
            400,
        )
        return json_response(400, {"error": "incomplete body"})
    secrets = env["dsync.backend"].browse(backend_id)._dsync_webhook_secrets()
    try:
        authentic = verify(secrets, raw, httprequest.headers)
    except (ValueError, TypeError, OverflowError, UnicodeError):
        authentic = False  # a header no platform sends
    if not authentic:
        _security_logger.warning(
            "%s webhook with a bad signature for backend %s from %s",
            backend_type,
            backend_id,
            remote,
        )
        store.reject(raw, "bad signature", 401)
        return json_response(401, {"error": "bad signature"})
    try:
        payload = json_object(raw)
        delivery = check_delivery(
            describe(payload, httprequest.headers, Route(env, backend))
        )
    except InvalidDelivery as err:
        store.reject(raw, f"invalid delivery: {err}", 400)
        return json_response(400, {"error": "invalid delivery", "reason": str(err)})
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        reason = f"not a {backend_type} delivery ({type(err).__name__})"
        store.reject(raw, f"invalid delivery: {reason}", 400)
        return json_response(400, {"error": "invalid delivery", "reason": reason})
    event_id, duplicate = _store_and_wake(env, store, raw, delivery, backend_type)
    if duplicate:
        return json_response(200, {"status": "duplicate", "event": event_id})
    return json_response(202, {"status": "accepted", "event": event_id})


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
    except psycopg2.Error as err:
        _logger.warning(
            "backend %s: the intake connection failed (%s); the request's cursor "
            "stores the delivery",
            backend_id,
            type(err).__name__,
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
    except Exception as err:
        _logger.warning(
            "backend %s: event stored, dispatcher not woken (%s); the cron will",
            backend_id,
            type(err).__name__,
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
        "dedup_key, delivery_id, source_timestamp, correlation_id, "
        "sequence_key, sequence, state, "
        "reject_reason, http_status, duplicate_count, "
        "create_uid, create_date, write_uid, write_date"
    )
    PLACEHOLDERS = (
        "%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
        " %s, now() at time zone 'UTC', %s, now() at time zone 'UTC'"
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
        sequence=(None, None),
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
            *sequence,
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
            label(self.headers.get(self.topic_header or ""), MAX_TOPIC_LENGTH)
            or "unknown",
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
            f"INSERT INTO dsync_event ({self.COLUMNS}) VALUES ({self.PLACEHOLDERS})",
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
            sequence=(delivery.sequence_key, delivery.sequence),
        )
        cr.execute(
            f"INSERT INTO dsync_event ({self.COLUMNS}) VALUES "
            f"({self.PLACEHOLDERS})"
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
