"""An EasyPost API v2 simulator: a real HTTP server on 127.0.0.1.

It answers the subset the carrier connector uses, with EasyPost's shapes:

==========================================  ===================================
``POST /v2/shipments``                      ``{"shipment": {...}}`` → a
                                            ``Shipment`` with its ``rates``
                                            (422 ``ADDRESS.VERIFY.FAILURE``
                                            with ``errors[{field, message}]``
                                            for an address it cannot verify)
``GET /v2/shipments/:id``                   the shipment as it is now
``POST /v2/shipments/:id/buy``              ``{"rate": {"id"}, "insurance"}``
                                            → ``tracking_code``,
                                            ``postage_label`` (PDF or ZPL as
                                            ``options.label_format`` asked,
                                            PNG always), ``tracker``; a
                                            second buy is refused (422
                                            ``SHIPMENT.POSTAGE.EXISTS``)
``POST /v2/shipments/:id/refund``           ``refund_status`` (``submitted``)
``GET /v2/trackers/:id``                    the ``Tracker``
``GET /files/postage_label/<name>``         the label documents: a real small
                                            PDF, a ZPL text, a PNG
==========================================  ===================================

Authentication: ``Authorization: Bearer <key>`` (or HTTP Basic with the key
as user name), else 401 with EasyPost's error object.

Test controls: ``set_outage(503 | 429, count)``, ``delay`` (seconds before
every API answer: a slow platform), ``hang_next_buys(n, seconds)`` (the
next ``n`` purchases are made, then the answer waits ``seconds``: the client
times out *after* the purchase), ``bad_documents`` (label files that are not
what their format says), ``address_rules`` (zip → field errors).

Trackers advance with :meth:`advance` (a ``TrackingDetail`` added, the
tracker's status and ``updated_at`` moved); :meth:`event` builds the
``Event`` EasyPost would send (``tracker.updated`` with the tracker as it is
*now*, so that events built earlier and sent later are older versions), and
:meth:`deliver` signs (``X-Hmac-Signature: hmac-sha256-hex=...``, secret
NFKD-normalised) and POSTs one to a webhook URL: twice, late or in any order
as a test wants.
"""

import base64
import copy
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import unicodedata
import uuid
import zlib
from collections import Counter
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler

import requests

from tests.simulators.server import SimulatorServer

DEFAULT_KEY = "EZTK_simulator_key"
RATES = (
    # carrier, service, rate, days, carrier account
    ("USPS", "GroundAdvantage", "6.07", 3, "ca_usps"),
    ("USPS", "Priority", "7.42", 2, "ca_usps"),
    ("USPS", "Express", "34.15", 1, "ca_usps"),
    ("UPS", "Ground", "9.90", 4, "ca_ups"),
)
ADDRESS_RULES = {
    "00000": [("zip", "ZIP code not found")],
    "99999": [("street1", "House number is missing")],
}
SHIPMENT_PATH = re.compile(r"^/v2/shipments/(?P<id>shp_\w+)(?P<action>/buy|/refund)?$")
TRACKER_PATH = re.compile(r"^/v2/trackers/(?P<id>trk_\w+)$")
FILE_PATH = re.compile(r"^/files/postage_label/(?P<name>[\w.]+)$")


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now():
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def small_pdf(text):
    """A real, minimal one-page PDF showing ``text`` (xref offsets right)."""
    stream = f"BT /F1 24 Tf 40 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 288 432] "
        b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length "
        + str(len(stream)).encode()
        + b" >>\nstream\n"
        + stream
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def small_zpl(text):
    return (
        f"^XA\n^CF0,40\n^FO40,40^FD{text}^FS\n^BY3^FO40,100^BCN,120,Y,N,N"
        f"^FD{text}^FS\n^XZ\n"
    ).encode()


def small_png():
    def chunk(kind, data):
        body = kind + data
        return (
            len(data).to_bytes(4, "big")
            + body
            + (zlib.crc32(body) & 0xFFFFFFFF).to_bytes(4, "big")
        )

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


def signature(secret, raw_body):
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return "hmac-sha256-hex=" + hmac.new(key, raw_body, hashlib.sha256).hexdigest()


def error(code, message, errors=None):
    return {"error": {"code": code, "message": message, "errors": errors or []}}


class EasyPostSimulator(SimulatorServer):
    """See the module docstring. Usable as a context manager."""

    thread_name = "easypost-simulator"

    def __init__(self, api_key=DEFAULT_KEY, mode="test"):
        self.api_key = api_key
        self.mode = mode
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self._codes = itertools.count(9400100000000000001)
        self.shipments = {}
        self.trackers = {}
        self.files = {}
        self.calls = Counter()  # "POST /shipments", "POST buy", ...
        self.purchases = Counter()  # shipment id -> purchases made
        self.requests = []  # (method, path, status)
        self.address_rules = dict(ADDRESS_RULES)
        self.delay = 0.0
        self.bad_documents = False
        self.refund_result = "submitted"
        self.outage_answers = 0
        self.status_429 = 0
        self._outage = None
        self._hang = [0, 0.0]
        self.session = requests.Session()

    # lifecycle -------------------------------------------------------------
    @property
    def api_url(self):
        return self.url + "/v2"

    # controls --------------------------------------------------------------
    def set_outage(self, status=503, count=1, retry_after=2):
        """Answer the next ``count`` API requests (None: all) with ``status``."""
        with self.lock:
            self._outage = [status, count, retry_after]

    def clear_outage(self):
        with self.lock:
            self._outage = None

    def hang_next_buys(self, count=1, seconds=3.0):
        """Make the next ``count`` purchases, then wait ``seconds`` before
        answering (the caller's timeout runs out after the purchase)."""
        with self.lock:
            self._hang = [count, seconds]

    def reset_counters(self):
        with self.lock:
            self.calls.clear()
            self.purchases.clear()
            self.requests.clear()
            self.outage_answers = self.status_429 = 0

    def next_id(self, prefix):
        return f"{prefix}_{uuid.uuid4().hex}"

    def bought_shipments(self):
        return [s for s in self.shipments.values() if s["postage_label"]]

    # request handling --------------------------------------------------------
    def handle(self, method, path, headers, raw):
        """(status, headers, body bytes, content type)."""
        path = path.split("?", 1)[0]
        match = FILE_PATH.match(path)
        if match and method == "GET":
            return self._file(match["name"])
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            outage = self._take_outage()
        if outage:
            return outage
        if not self._authorized(headers.get("Authorization") or ""):
            return self._json(401, error("APIKEY.INACTIVE", "API key is invalid."))
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return self._json(400, error("BAD_REQUEST", "body is not JSON"))
        status, answer, hang = self._route(method, path, body)
        with self.lock:
            self.requests.append((method, path, status))
        if hang:
            time.sleep(hang)
        return self._json(status, answer)

    def _route(self, method, path, body):
        if method == "POST" and path == "/v2/shipments":
            self.calls["create"] += 1
            return (*self._create_shipment(body.get("shipment") or {}), 0)
        match = SHIPMENT_PATH.match(path)
        if match:
            with self.lock:
                shipment = self.shipments.get(match["id"])
            if shipment is None:
                return (
                    404,
                    error("NOT_FOUND", "The requested resource could not be found."),
                    0,
                )
            action = match["action"]
            if method == "GET" and not action:
                self.calls["retrieve"] += 1
                return 200, copy.deepcopy(shipment), 0
            if method == "POST" and action == "/buy":
                self.calls["buy"] += 1
                return self._buy(shipment, body)
            if method == "POST" and action == "/refund":
                self.calls["refund"] += 1
                return (*self._refund(shipment), 0)
        match = TRACKER_PATH.match(path)
        if match and method == "GET":
            self.calls["tracker"] += 1
            with self.lock:
                tracker = self.trackers.get(match["id"])
            if tracker is None:
                return (
                    404,
                    error("NOT_FOUND", "The requested resource could not be found."),
                    0,
                )
            return 200, copy.deepcopy(tracker), 0
        return 404, error("NOT_FOUND", "The requested resource could not be found."), 0

    def _authorized(self, header):
        if header == f"Bearer {self.api_key}":
            return True
        if header.startswith("Basic "):
            try:
                user = base64.b64decode(header[6:]).decode().split(":", 1)[0]
            except (ValueError, UnicodeDecodeError):
                return False
            return user == self.api_key
        return False

    def _take_outage(self):
        outage = self._next_outage()
        if outage is None:
            return None
        status, retry_after = outage
        headers = {"Retry-After": str(retry_after)} if retry_after else {}
        if status == 429:
            self.status_429 += 1
            body = error("RATE_LIMITED", "You have exceeded the rate limit.")
        else:
            self.outage_answers += 1
            body = error("SERVICE_UNAVAILABLE", "Service temporarily unavailable.")
        return status, headers, json.dumps(body).encode(), "application/json"

    @staticmethod
    def _json(status, body, headers=None):
        return status, headers or {}, json.dumps(body).encode(), "application/json"

    # shipments ---------------------------------------------------------------
    def _create_shipment(self, data):
        to_address = data.get("to_address") or {}
        problems = []
        if not to_address.get("street1"):
            problems.append(("street1", "Street is required."))
        problems += self.address_rules.get(str(to_address.get("zip") or ""), [])
        if problems:
            return 422, error(
                "ADDRESS.VERIFY.FAILURE",
                "Unable to verify address.",
                [{"field": f, "message": m, "suggestion": None} for f, m in problems],
            )
        parcel = data.get("parcel") or {}
        if not isinstance(parcel.get("weight"), int | float) or parcel["weight"] <= 0:
            return 422, error(
                "PARCEL.WEIGHT.INVALID",
                "Parcel weight must be positive.",
                [{"field": "weight", "message": "must be greater than 0"}],
            )
        now = iso(utc_now())
        shipment_id = self.next_id("shp")
        accounts = data.get("carrier_accounts") or []
        rates = [
            {
                "id": self.next_id("rate"),
                "object": "Rate",
                "mode": self.mode,
                "service": service,
                "carrier": carrier,
                "rate": rate,
                "currency": "USD",
                "retail_rate": rate,
                "delivery_days": days,
                "est_delivery_days": days,
                "shipment_id": shipment_id,
                "carrier_account_id": account,
                "created_at": now,
                "updated_at": now,
            }
            for carrier, service, rate, days, account in RATES
            if not accounts or account in accounts
        ]
        shipment = {
            "id": shipment_id,
            "object": "Shipment",
            "mode": self.mode,
            "reference": data.get("reference"),
            "created_at": now,
            "updated_at": now,
            "status": "unknown",
            "tracking_code": None,
            "to_address": dict(to_address, object="Address"),
            "from_address": dict(data.get("from_address") or {}, object="Address"),
            "parcel": dict(parcel, object="Parcel"),
            "options": dict(data.get("options") or {}, currency="USD"),
            "rates": rates,
            "selected_rate": None,
            "postage_label": None,
            "tracker": None,
            "refund_status": None,
            "insurance": None,
            "messages": [],
            "fees": [],
        }
        with self.lock:
            self.shipments[shipment_id] = shipment
        return 201, copy.deepcopy(shipment)

    def _buy(self, shipment, body):
        rate_id = (
            ((body.get("rate") or {}).get("id")) if isinstance(body, dict) else None
        )
        with self.lock:
            if shipment["postage_label"]:
                return (
                    422,
                    error(
                        "SHIPMENT.POSTAGE.EXISTS",
                        "Postage already exists for this shipment.",
                    ),
                    0,
                )
            rate = next((r for r in shipment["rates"] if r["id"] == rate_id), None)
            if rate is None:
                return (
                    422,
                    error(
                        "SHIPMENT.RATE.INVALID",
                        "The rate is not one of this shipment's rates.",
                        [{"field": "rate", "message": "invalid rate id"}],
                    ),
                    0,
                )
            self._purchase(shipment, rate, body.get("insurance"))
            hang = 0
            if self._hang[0] > 0:
                self._hang[0] -= 1
                hang = self._hang[1]
            return 200, copy.deepcopy(shipment), hang

    def _purchase(self, shipment, rate, insurance):
        now = utc_now()
        code = f"EZ{next(self._codes)}"
        fmt = str((shipment["options"] or {}).get("label_format") or "PNG").upper()
        name = shipment["id"][4:16]
        label = {
            "object": "PostageLabel",
            "id": self.next_id("pl"),
            "created_at": iso(now),
            "updated_at": iso(now),
            "label_date": iso(now),
            "label_size": "4x6",
            "label_file_type": "image/png",
            "label_url": f"{self.url}/files/postage_label/{name}.png",
            "label_pdf_url": None,
            "label_zpl_url": None,
            "label_epl2_url": None,
        }
        self.files[f"{name}.png"] = ("image/png", small_png())
        if fmt == "PDF":
            label["label_pdf_url"] = f"{self.url}/files/postage_label/{name}.pdf"
            self.files[f"{name}.pdf"] = ("application/pdf", small_pdf(code))
        elif fmt == "ZPL":
            label["label_zpl_url"] = f"{self.url}/files/postage_label/{name}.zpl"
            self.files[f"{name}.zpl"] = ("text/plain", small_zpl(code))
        tracker = {
            "id": self.next_id("trk"),
            "object": "Tracker",
            "mode": self.mode,
            "tracking_code": code,
            "status": "pre_transit",
            "status_detail": "label_created",
            "created_at": iso(now),
            "updated_at": iso(now),
            "signed_by": None,
            "weight": None,
            "est_delivery_date": iso(now + timedelta(days=rate["delivery_days"] or 3)),
            "shipment_id": shipment["id"],
            "carrier": rate["carrier"],
            "tracking_details": [],
            "carrier_detail": None,
            "finalized": False,
            "is_return": False,
            "public_url": f"https://track.easypost.test/{code}",
            "fees": [],
        }
        self.trackers[tracker["id"]] = tracker
        shipment.update(
            tracking_code=code,
            postage_label=label,
            selected_rate=dict(rate),
            tracker=copy.deepcopy(tracker),
            insurance=insurance,
            updated_at=iso(now),
        )
        self.purchases[shipment["id"]] += 1

    def _refund(self, shipment):
        with self.lock:
            if not shipment["postage_label"]:
                return 422, error(
                    "SHIPMENT.REFUND.UNAVAILABLE", "This shipment has no postage."
                )
            if shipment["refund_status"] in (None, "rejected"):
                shipment["refund_status"] = self.refund_result
            return 200, copy.deepcopy(shipment)

    def settle_refund(self, shipment_id, status="refunded"):
        """The carrier settles a refund: the shipment's ``refund_status``
        moves and a ``refund.successful`` event is returned."""
        with self.lock:
            shipment = self.shipments[shipment_id]
            shipment["refund_status"] = status
            refund = {
                "id": self.next_id("rfnd"),
                "object": "Refund",
                "tracking_code": shipment["tracking_code"],
                "confirmation_number": None,
                "status": status,
                "carrier": (shipment["selected_rate"] or {}).get("carrier"),
                "shipment_id": shipment_id,
                "created_at": iso(utc_now()),
                "updated_at": iso(utc_now()),
            }
        return self._envelope("refund.successful", refund)

    def _file(self, name):
        entry = self.files.get(name)
        if entry is None:
            return 404, {}, b"not found", "text/plain"
        content_type, content = entry
        if self.bad_documents:
            content = b"<html><body>Label not available</body></html>"
        return 200, {}, content, content_type

    # trackers ----------------------------------------------------------------
    def tracker_of(self, shipment_id):
        return self.shipments[shipment_id]["tracker"]["id"]

    def advance(
        self,
        tracker_id,
        status,
        message=None,
        status_detail=None,
        at=None,
        city="CHARLOTTE",
        state="NC",
        zip="28202",
        country="US",
        signed_by=None,
    ):
        """Add a scan to a tracker and move its status; returns the new
        ``tracker.updated`` event (the tracker as it is now)."""
        with self.lock:
            tracker = self.trackers[tracker_id]
            moment = at or (
                max(
                    [datetime.fromisoformat(tracker["updated_at"][:-1])]
                    + [
                        datetime.fromisoformat(d["datetime"][:-1])
                        for d in tracker["tracking_details"]
                    ]
                )
                + timedelta(hours=1)
            )
            detail = status_detail or {
                "in_transit": "arrived_at_facility",
                "out_for_delivery": "out_for_delivery",
                "delivered": "arrived_at_destination",
            }.get(status, status)
            tracker["tracking_details"].append(
                {
                    "object": "TrackingDetail",
                    "message": message or status.replace("_", " ").capitalize(),
                    "description": "",
                    "status": status,
                    "status_detail": detail,
                    "datetime": iso(moment),
                    "source": tracker["carrier"],
                    "carrier_code": "",
                    "tracking_location": {
                        "object": "TrackingLocation",
                        "city": city,
                        "state": state,
                        "country": country,
                        "zip": zip,
                    },
                }
            )
            tracker.update(status=status, status_detail=detail, updated_at=iso(moment))
            if signed_by:
                tracker["signed_by"] = signed_by
            return self.event(tracker_id)

    def event(self, tracker_id, description="tracker.updated"):
        """The ``Event`` EasyPost sends about a tracker, as it is now."""
        with self.lock:
            tracker = copy.deepcopy(self.trackers[tracker_id])
        return self._envelope(description, tracker)

    def _envelope(self, description, result):
        now = iso(utc_now())
        return {
            "object": "Event",
            "id": self.next_id("evt"),
            "mode": self.mode,
            "description": description,
            "previous_attributes": {},
            "created_at": now,
            "updated_at": now,
            "pending_urls": [],
            "completed_urls": [],
            "user_id": "user_simulator",
            "status": "pending",
            "result": result,
        }

    @staticmethod
    def body(event):
        return json.dumps(event, separators=(",", ":")).encode()

    def deliver(self, url, secret, event, headers=None, timeout=10, session=None):
        """POST one event to a webhook URL, signed as EasyPost signs."""
        raw = self.body(event)
        sent = {
            "Content-Type": "application/json",
            "User-Agent": "EasyPost WebHook Agent 1.0",
            "X-Hmac-Signature": signature(secret, raw),
        }
        sent.update(headers or {})
        return (session or self.session).post(
            url, data=raw, headers=sent, timeout=timeout
        )


class _Handler(BaseHTTPRequestHandler):
    sim = None
    protocol_version = "HTTP/1.1"

    def _answer(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, headers, body, content_type = self.sim.handle(
            method, self.path, self.headers, raw
        )
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Ep-Request-Uuid", uuid.uuid4().hex)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): nothing to answer

    def do_POST(self):  # noqa: N802 - http.server's naming
        self._answer("POST")

    def do_GET(self):  # noqa: N802
        self._answer("GET")

    def log_message(self, format, *args):  # noqa: A002 - silence the access log
        return


EasyPostSimulator.handler = _Handler
