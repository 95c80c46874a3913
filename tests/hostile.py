"""Tools of the hostile-input suite: raw HTTP requests (any byte in a
header, a body shorter than its Content-Length, a client that goes away),
signers for each platform, and a log watcher.

``http.client`` and ``requests`` refuse to send most of what an attacker
sends; :func:`raw_request` writes the bytes itself."""

import base64
import hashlib
import hmac
import json
import logging
import socket
import time
import uuid

from odoo.tests import HttpCase
from odoo.tests.common import HOST
from odoo.tools import config

from odoo.addons.distribution_sync_core.intake import rate_limiter


def raw_request(
    host,
    port,
    method,
    path,
    headers=(),
    body=b"",
    content_length=None,
    close_after_send=False,
    timeout=15,
    source=None,
):
    """Send one request as bytes; return (status, body bytes), or (None,
    b"") when the server closed the connection without an answer.

    ``headers``: (name, value) pairs of bytes or str (latin-1), sent as
    they are. ``content_length``: the announced length (default: the
    body's). ``close_after_send``: shut the writing side down once the body
    is sent (a client that gives up), then read what comes back.
    ``source``: the client's own address (any 127.x.y.z on loopback)."""
    lines = [f"{method} {path} HTTP/1.1".encode(), f"Host: {host}:{port}".encode()]
    for name, value in headers:
        name = _bytes(name)
        value = _bytes(value)
        lines.append(name + b": " + value)
    length = len(body) if content_length is None else content_length
    lines.append(f"Content-Length: {length}".encode())
    lines.append(b"Connection: close")
    data = b"\r\n".join(lines) + b"\r\n\r\n" + body
    with socket.create_connection(
        (host, port), timeout=timeout, source_address=(source, 0) if source else None
    ) as sock:
        sock.sendall(data)
        if close_after_send:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
    answer = b"".join(chunks)
    if not answer:
        return None, b""
    head, _sep, rest = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        rest = _unchunk(rest)
    return status, rest


def _bytes(text):
    """latin-1 where it fits (one byte per character, as HTTP/1.1 reads
    headers), else UTF-8."""
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode()


def _unchunk(data):
    out = []
    while data:
        size_line, _sep, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if not size:
            break
        out.append(data[:size])
        data = data[size + 2 :]
    return b"".join(out)


# ------------------------------------------------------------------------
# signers: the headers that authenticate ``body`` for each route
# ------------------------------------------------------------------------
def shopify_signature(secret, body):
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return [("X-Shopify-Hmac-Sha256", base64.b64encode(digest).decode())]


def wms_signature(secret, body, stamp=None):
    stamp = str(int(time.time())) if stamp is None else stamp
    digest = hmac.new(
        secret.encode(), stamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return [("X-Dsync-Signature", f"sha256={digest}"), ("X-Dsync-Timestamp", stamp)]


def carrier_signature(secret, body):
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return [("X-Hmac-Signature", f"hmac-sha256-hex={digest}")]


# ------------------------------------------------------------------------
# the server log
# ------------------------------------------------------------------------
class LogWatch(logging.Handler):
    """Collects every record logged while installed (all loggers)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def __enter__(self):
        root = logging.getLogger()
        self._level = root.level
        root.addHandler(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger().removeHandler(self)

    def lines(self):
        out = []
        for record in self.records:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            out.append((record.levelno, record.name, text))
        return out


# ------------------------------------------------------------------------
# the base of the suites
# ------------------------------------------------------------------------
SECRET = "hostile-secret"
SHOP = "demo-store.myshopify.com"
# Personal data in every body: it must never reach the server log.
CANARY_EMAIL = "canary.jane.doe@example.com"
CANARY_NAME = "Canary Janedoe"
INTERNAL = ("Traceback", "psycopg2", 'File "', "odoo.", "SELECT", "INSERT")


class HostileCase(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Backend = cls.env["dsync.backend"]
        cls.backends = {}
        for kind in ("shopify", "wms", "carrier"):
            backend = Backend.create(
                {
                    "name": f"hostile {kind}",
                    "backend_type": kind,
                    "inbound_rate_limit": 0,
                    "shopify_shop_domain": SHOP,
                }
            )
            backend._dsync_set_secret("webhook_secret", SECRET)
            cls.backends[kind] = backend

    def setUp(self):
        super().setUp()
        rate_limiter.reset()
        self.watch = self.enterContext(LogWatch())
        odoo_logger = logging.getLogger("odoo")
        level = odoo_logger.level
        odoo_logger.setLevel(logging.INFO)
        self.addCleanup(odoo_logger.setLevel, level)
        self.addCleanup(self.assert_clean_log)

    # ------------------------------------------------------------------
    # documents and requests
    # ------------------------------------------------------------------
    def customer(self):
        return {"id": 7, "email": CANARY_EMAIL, "first_name": CANARY_NAME}

    def doc(self, kind, **overrides):
        """A valid delivery of ``kind`` (with personal data in it)."""
        if kind == "shopify":
            doc = {
                "id": 820982911946154508,
                "name": "#1001",
                "email": CANARY_EMAIL,
                "updated_at": "2026-11-20T12:00:00-05:00",
                "customer": self.customer(),
                "line_items": [{"id": 1, "sku": "SKU-1", "quantity": 1}],
            }
        elif kind == "wms":
            doc = {
                "id": uuid.uuid4().hex,
                "type": "shipment.confirmed",
                "occurred_at": "2026-11-20T10:00:00Z",
                "sequence": 1,
                "order_ref": "WH/OUT/00001",
                "data": {
                    "shipment_id": "SHP-1",
                    "lines": [{"sku": "SKU-1", "quantity": 1}],
                    "ship_to": self.customer(),
                },
            }
        else:
            doc = {
                "object": "Event",
                "id": f"evt_{uuid.uuid4().hex}",
                "description": "tracker.updated",
                "created_at": "2026-11-21T08:30:00Z",
                "result": {
                    "object": "Tracker",
                    "id": "trk_hostile",
                    "tracking_code": "EZ1000000001",
                    "status": "delivered",
                    "updated_at": "2026-11-21T08:29:00Z",
                    "signed_by": CANARY_NAME,
                    "tracking_details": [],
                },
            }
        doc.update(overrides)
        return doc

    def path(self, kind, token=None):
        token = self.backends[kind].token if token is None else token
        return {
            "shopify": f"/dsync/shopify/{token}/webhook",
            "wms": f"/dsync/wms/{token}/events",
            "carrier": f"/dsync/carrier/{token}/tracking",
        }[kind]

    def shopify_headers(self, topic="orders/create", webhook_id=None, shop=SHOP):
        return [
            ("X-Shopify-Topic", topic),
            (
                "X-Shopify-Webhook-Id",
                uuid.uuid4().hex if webhook_id is None else webhook_id,
            ),
            ("X-Shopify-Shop-Domain", shop),
            ("X-Shopify-API-Version", "2025-07"),
        ]

    def signed(self, kind, body, secret=SECRET):
        return {
            "shopify": shopify_signature,
            "wms": wms_signature,
            "carrier": carrier_signature,
        }[kind](secret, body)

    def send(
        self,
        kind,
        body,
        headers=None,
        sign=True,
        method="POST",
        token=None,
        content_type="application/json",
        port=None,
        **kw,
    ):
        """(status, answer) of a raw request to ``kind``'s route (on Odoo's
        port unless ``port``); the Shopify headers of an orders/create by
        default."""
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        self.env.flush_all()  # what the test wrote is the route's to read
        if headers is None:
            headers = self.shopify_headers() if kind == "shopify" else []
        headers = list(headers)
        if content_type:
            headers.append(("Content-Type", content_type))
        if sign:
            headers += self.signed(kind, body)
        status, answer = raw_request(
            HOST,
            port or config["http_port"],
            method,
            self.path(kind, token),
            headers,
            body,
            **kw,
        )
        for marker in INTERNAL:
            self.assertNotIn(marker.encode(), answer, f"internal detail: {answer!r}")
        return status, answer

    # ------------------------------------------------------------------
    # what was stored
    # ------------------------------------------------------------------
    def events(self, kind, **domain):
        return self.env["dsync.event"].search(
            [("backend_id", "=", self.backends[kind].id)]
            + [(key, "=", value) for key, value in domain.items()]
        )

    def last_rejected(self, kind):
        return self.events(kind, state="rejected")[:1]

    def assert_rejected(self, kind, status, reason_part, before):
        """A new rejected event with that status and reason, no job."""
        events = self.events(kind) - before
        self.assertEqual(len(events), 1, f"one event stored: {events.read(['state'])}")
        self.assertEqual(events.state, "rejected")
        self.assertEqual(events.http_status, status)
        self.assertIn(reason_part, events.reject_reason)
        self.assertFalse(events.job_id, "a rejected delivery is never processed")
        self.assertFalse(events.dedup_key)
        return events

    def assert_clean_log(self):
        for level, name, text in self.watch.lines():
            self.assertLess(level, logging.ERROR, f"ERROR logged: {name}: {text}")
            for canary in (CANARY_EMAIL, CANARY_NAME):
                self.assertNotIn(canary, text, f"payload in the log: {name}: {text}")
            self.assertLess(len(text), 2000, f"unbounded log line from {name}")
