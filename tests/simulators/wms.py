"""A warehouse system (WMS / 3PL) simulator: a real HTTP server on 127.0.0.1.

It implements the published contract (``addons/connector_wms/static/openapi/
wms-v1.yaml``) from the warehouse's side:

===============================  ==========================================
``GET  /v1/ping``                the account and its sites
``PUT  /v1/products``            product master upsert
``POST /v1/orders``              a release: 201, or 409 ``duplicate_reference``
``PUT  /v1/orders/{ref}``        a new version: 200, 404 unknown, 409
                                 ``already_picked`` / ``already_shipped``
``POST /v1/orders/{ref}/cancel`` 200 cancelled, 404 unknown, 409 too late
``POST|PUT /v1/inbounds...``     expected receipts (ASN), the same answers
``GET  /v1/inventory``           a stock snapshot, page by page
===============================  ==========================================

Every request must carry ``X-Api-Key`` (else 401) and, for writes, an
``Idempotency-Key``: a key seen before answers what it answered the first
time, with no second effect. Every request body is checked against the
contract's schema (a violation answers 400 and is recorded in
``contract_violations``, which the tests assert empty).

Test controls: ``set_outage(503 | 429, count)`` (None: until
``clear_outage()``), ``set_delay(seconds)`` (answers slower than the
client's timeout), ``rate_limit(per_second)`` (429 + Retry-After beyond it),
``hold_order(ref)`` (the order is being picked: changes and cancels are
refused).

The warehouse's side of the work: events built from its state, signed and
delivered to Odoo's route (``target(url, token, secret)``):
:meth:`shipment` (full, partial, in packages, with lots and serials, the
order complete or not), :meth:`short`, :meth:`on_hold`, :meth:`cancelled`,
:meth:`receipt`, :meth:`adjustment`, :meth:`snapshot_events` (paged),
:meth:`return_received`; :meth:`deliver` sends them as they are, reversed,
shuffled, twice, with delays. Each event carries the next ``sequence`` of
its order, and is checked against the contract before it is sent.
"""

import copy
import importlib.util
import itertools
import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from tests.simulators.server import SimulatorServer
from tests.simulators.webhook_sender import WmsSender

DEFAULT_API_KEY = "wms-simulator-key"
CONTRACT_FILE = os.path.join(
    os.path.dirname(__file__), "..", "..", "addons", "connector_wms", "contract.py"
)


def load_contract():
    """The connector's ``contract`` module, loaded from its file (it needs no
    Odoo): the simulator, the demo and the benchmarks check documents with
    it outside Odoo too."""
    spec = importlib.util.spec_from_file_location("wms_contract", CONTRACT_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


contract = load_contract()


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class WmsSimulator(SimulatorServer):
    """See the module docstring. Usable as a context manager."""

    thread_name = "wms-simulator"

    def __init__(self, api_key=DEFAULT_API_KEY, sites=("WH",), account="Sim 3PL"):
        self.api_key = api_key
        self.sites = list(sites)
        self.account = account
        self.lock = threading.RLock()
        self.products = {}  # sku -> product document
        self.orders = {}  # reference -> order state (see _order_state)
        self.inbounds = {}  # reference -> inbound state
        self.stock = Counter()  # (site, sku) -> on hand
        self.idempotent = {}  # (method, path, key) -> answer
        self.requests = []  # (method, path, status)
        self.contract_violations = []
        self.sequences = Counter()  # order reference -> last sequence sent
        self.sent = []  # every event delivered, in delivery order
        self.answers = []  # (event id, HTTP status) of each delivery
        self._outage = None
        self._delay = 0.0
        self._rate = None
        self._bucket = [0.0, time.monotonic()]
        self._ids = itertools.count(1)
        self._tracking = itertools.count(100001)
        self._target = None

    # ------------------------------------------------------------------
    # controls
    # ------------------------------------------------------------------
    def reset(self):
        """Forget everything (between tests sharing one simulator)."""
        with self.lock:
            self.products.clear()
            self.orders.clear()
            self.inbounds.clear()
            self.stock.clear()
            self.idempotent.clear()
            self.requests.clear()
            self.contract_violations.clear()
            self.sequences.clear()
            self.sent.clear()
            self.answers.clear()
            self._outage = None
            self._delay = 0.0
            self._rate = None

    def set_outage(self, status=503, count=None, retry_after=1):
        with self.lock:
            self._outage = [status, count, retry_after]

    def clear_outage(self):
        with self.lock:
            self._outage = None

    def set_delay(self, seconds):
        self._delay = seconds

    def rate_limit(self, per_second=None):
        with self.lock:
            self._rate = per_second
            self._bucket = [float(per_second or 0), time.monotonic()]

    def hold_order(self, reference, status="picking"):
        with self.lock:
            self.orders[reference]["status"] = status

    def count(self, method=None, prefix=""):
        return sum(
            1
            for m, path, status in self.requests
            if (method is None or m == method) and path.startswith(prefix)
        )

    # ------------------------------------------------------------------
    # the API (called by the HTTP handler)
    # ------------------------------------------------------------------
    def handle(self, method, raw_path, headers, raw):
        if self._delay:
            time.sleep(self._delay)
        split = urlsplit(raw_path)
        path = split.path
        with self.lock:
            status, extra, body = self._handle(method, path, split.query, headers, raw)
            self.requests.append((method, path, status))
            return status, extra, body

    def _handle(self, method, path, query, headers, raw):
        outage = self._take_outage()
        if outage:
            return outage
        if self._rate_limited():
            return 429, {"Retry-After": "1"}, {"error": "rate_limited"}
        if headers.get("X-Api-Key") != self.api_key:
            return 401, {}, {"error": "unauthorized"}
        if method == "GET":
            return self._get(path, parse_qs(query))
        key = headers.get("Idempotency-Key")
        if not key:
            return 400, {}, {"error": "idempotency_key_missing"}
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, {}, {"error": "invalid_json"}
        remembered = self.idempotent.get((method, path, key))
        if remembered:
            return remembered
        answer = self._write(method, path, body)
        if answer[0] < 500 and answer[0] != 429:
            self.idempotent[(method, path, key)] = answer
        return answer

    def _take_outage(self):
        outage = self._next_outage()
        if outage is None:
            return None
        status, retry_after = outage
        return status, {"Retry-After": str(retry_after)}, {"error": "unavailable"}

    def _rate_limited(self):
        if not self._rate:
            return False
        tokens, stamp = self._bucket
        now = time.monotonic()
        tokens = min(self._rate, tokens + (now - stamp) * self._rate)
        if tokens < 1:
            self._bucket = [tokens, now]
            return True
        self._bucket = [tokens - 1, now]
        return False

    def _checked(self, schema, body):
        try:
            contract.check(schema, body)
        except contract.ContractError as err:
            self.contract_violations.append((schema, str(err)))
            return 400, {}, {"error": "invalid_request", "message": str(err)}
        return None

    def _get(self, path, query):
        if path == "/v1/ping":
            return 200, {}, {"account": self.account, "sites": self.sites}
        if path == "/v1/inventory":
            page = int((query.get("page") or ["1"])[0])
            size = int((query.get("page_size") or ["1000"])[0])
            site = (query.get("site") or [self.sites[0]])[0]
            snapshot_id = (query.get("snapshot_id") or [None])[0]
            return 200, {}, self.snapshot_page(site, page, size, snapshot_id)
        return 404, {}, {"error": "not_found"}

    def _write(self, method, path, body):
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if method == "PUT" and path == "/v1/products":
            return self._products(body)
        if len(parts) >= 2 and parts[0] == "v1" and parts[1] in ("orders", "inbounds"):
            kind = "order" if parts[1] == "orders" else "inbound"
            store = self.orders if kind == "order" else self.inbounds
            schema = "OrderRequest" if kind == "order" else "InboundRequest"
            if method == "POST" and len(parts) == 2:
                return self._checked(schema, body) or self._create(store, kind, body)
            if method == "PUT" and len(parts) == 3:
                return self._checked(schema, body) or self._update(
                    store, kind, parts[2], body
                )
            if method == "POST" and len(parts) == 4 and parts[3] == "cancel":
                return self._checked("CancelRequest", body) or self._cancel(
                    store, kind, parts[2]
                )
        return 404, {}, {"error": "not_found"}

    def _products(self, body):
        invalid = self._checked("ProductBatch", body)
        if invalid:
            return invalid
        results = []
        for product in body["products"]:
            known = self.products.get(product["sku"])
            status = (
                "created"
                if not known
                else "unchanged"
                if known == product
                else "updated"
            )
            self.products[product["sku"]] = copy.deepcopy(product)
            results.append({"sku": product["sku"], "status": status})
        return 200, {}, {"results": results}

    def _create(self, store, kind, body):
        document = body[kind]
        reference = document["reference"]
        if reference in store:
            return 409, {}, {"error": "duplicate_reference", "reference": reference}
        unknown = [
            line["sku"]
            for line in document["lines"]
            if line["sku"] not in self.products
        ]
        if unknown:
            return 400, {}, {"error": "unknown_sku", "message": ", ".join(unknown)}
        store[reference] = self._new_state(document)
        return 201, {}, {"reference": reference, "status": "accepted", "version": 1}

    def _new_state(self, document):
        return {
            "document": copy.deepcopy(document),
            "version": document.get("version", 1),
            "status": "accepted",
            "done": Counter(),  # sku -> shipped (or received)
            "short": Counter(),
            "versions": [document.get("version", 1)],
        }

    def _update(self, store, kind, reference, body):
        state = store.get(reference)
        if state is None:
            return 404, {}, {"error": "unknown_reference"}
        if state["status"] in ("picking", "shipped", "received", "cancelled"):
            error = {
                "picking": "already_picked",
                "cancelled": "cancelled",
            }.get(state["status"], f"already_{state['status']}")
            return 409, {}, {"error": error}
        state["document"] = copy.deepcopy(body[kind])
        state["short"].clear()  # the new version says what is left to ship
        state["version"] = body[kind].get("version", state["version"])
        state["versions"].append(state["version"])
        return 200, {}, {"reference": reference, "status": "updated"}

    def _cancel(self, store, kind, reference):
        state = store.get(reference)
        if state is None:
            return 404, {}, {"error": "unknown_reference"}
        if state["status"] in ("picking", "shipped", "received"):
            error = (
                "already_picked"
                if state["status"] == "picking"
                else (f"already_{state['status']}")
            )
            return 409, {}, {"error": error}
        state["status"] = "cancelled"
        return 200, {}, {"reference": reference, "status": "cancelled"}

    # ------------------------------------------------------------------
    # stock
    # ------------------------------------------------------------------
    def set_stock(self, quantities, site=None):
        """``{sku: on hand}`` at ``site`` (default: the first one)."""
        site = site or self.sites[0]
        with self.lock:
            for sku, quantity in quantities.items():
                self.stock[(site, sku)] = quantity

    def allocated(self, site, sku):
        """Units of released orders not shipped yet (what a WMS reserves)."""
        total = 0
        for state in self.orders.values():
            document = state["document"]
            if state["status"] not in ("accepted", "picking"):
                continue
            if (document.get("site") or self.sites[0]) != site:
                continue
            for line in document["lines"]:
                if line["sku"] == sku:
                    total += line["quantity"]
            # a unit short is still on the order, waiting for stock
            total -= state["done"][sku]
        return max(0, total)

    def snapshot_items(self, site=None):
        site = site or self.sites[0]
        with self.lock:
            return [
                {
                    "sku": sku,
                    "on_hand": quantity,
                    "allocated": min(quantity, self.allocated(site, sku)),
                }
                for (where, sku), quantity in sorted(self.stock.items())
                if where == site
            ]

    def snapshot_page(self, site, page, size, snapshot_id=None):
        items = self.snapshot_items(site)
        count = max(1, -(-len(items) // size))
        return {
            "snapshot_id": snapshot_id or f"SNAP-{next(self._ids)}",
            "page": page,
            "page_count": count,
            "site": site,
            "as_of": now_iso(),
            "items": items[(page - 1) * size : page * size],
        }

    # ------------------------------------------------------------------
    # events
    # ------------------------------------------------------------------
    def target(self, base_url, token, secret, session=None):
        """Where :meth:`deliver` sends events (Odoo's route of a backend)."""
        self._target = WmsSender(base_url, token, secret, session=session)

    def event(self, kind, data, order_ref=None, sequence=None, **envelope):
        """A contract-valid event; order events get the order's next
        sequence number unless ``sequence`` is given."""
        doc = {
            "id": envelope.pop("id", None) or f"evt-{uuid.uuid4().hex}",
            "type": kind,
            "occurred_at": envelope.pop("occurred_at", None) or now_iso(),
        }
        if order_ref is not None:
            doc["order_ref"] = order_ref
            if sequence is None and kind in contract.ORDER_EVENT_TYPES:
                with self.lock:
                    self.sequences[order_ref] += 1
                    sequence = self.sequences[order_ref]
        if sequence is not None:
            doc["sequence"] = sequence
        doc.update(envelope)
        doc["data"] = data
        contract.check_event(doc)
        return doc

    def _state(self, reference):
        return self.orders.get(reference) or self.inbounds[reference]

    def shipment(
        self,
        reference,
        lines=None,
        packages=None,
        complete=False,
        carrier="ups",
        shipment_id=None,
    ):
        """A shipment of ``lines`` (dicts of the contract's ``ShippedLine``;
        default: everything not shipped yet, in one package)."""
        with self.lock:
            state = self.orders[reference]
            if lines is None:
                lines = [
                    {"sku": sku, "quantity": quantity, "package_ref": "PKG-1"}
                    for sku, quantity in self.remaining(reference).items()
                    if quantity > 0
                ]
            if packages is None:
                refs = sorted({line.get("package_ref") for line in lines} - {None})
                packages = [self.package(ref, carrier=carrier) for ref in refs]
            site = state["document"].get("site") or self.sites[0]
            for line in lines:
                state["done"][line["sku"]] += line["quantity"]
                self.stock[(site, line["sku"])] -= line["quantity"]
            # short units stay on the order, waiting for stock
            if complete or not any(
                q > 0 for q in self.remaining(reference, with_short=True).values()
            ):
                state["status"] = "shipped"
            data = {
                "shipment_id": shipment_id or f"SHP-{next(self._ids)}",
                "shipped_at": now_iso(),
                "carrier": carrier,
                "order_complete": bool(complete),
                "lines": lines,
            }
            if packages:
                data["packages"] = packages
            return self.event("shipment.confirmed", data, order_ref=reference)

    def package(self, ref, carrier="ups", weight=1.0):
        return {
            "package_ref": ref,
            "tracking_number": f"1ZSIM{next(self._tracking)}",
            "carrier": carrier,
            "weight": weight,
            "weight_uom": "kg",
        }

    def remaining(self, reference, with_short=False):
        """{sku: units released and neither shipped nor (unless
        ``with_short``) short}."""
        state = self._state(reference)
        wanted = Counter()
        for line in state["document"]["lines"]:
            wanted[line["sku"]] += line["quantity"]
        return {
            sku: quantity
            - state["done"][sku]
            - (0 if with_short else state["short"][sku])
            for sku, quantity in wanted.items()
        }

    def short(self, reference, lines, reason="out_of_stock"):
        """``lines``: [(sku, quantity)] that cannot be picked."""
        with self.lock:
            state = self.orders[reference]
            for sku, quantity in lines:
                state["short"][sku] += quantity
            return self.event(
                "order.short",
                {
                    "reason": reason,
                    "lines": [
                        {"sku": sku, "quantity": quantity, "reason": reason}
                        for sku, quantity in lines
                    ],
                },
                order_ref=reference,
            )

    def on_hold(self, reference, reason="address_invalid", message=None):
        data = {"reason": reason}
        if message:
            data["message"] = message
        return self.event("order.on_hold", data, order_ref=reference)

    def cancelled(self, reference, reason="cancelled_by_merchant"):
        with self.lock:
            if reference in self.orders:
                self.orders[reference]["status"] = "cancelled"
        return self.event("order.cancelled", {"reason": reason}, order_ref=reference)

    def receipt(self, reference, lines=None, complete=False, receipt_id=None):
        """A receipt of ``lines`` (``ReceivedLine`` dicts; default: every
        unit announced and not received yet)."""
        with self.lock:
            state = self.inbounds[reference]
            if lines is None:
                lines = [
                    {"sku": sku, "quantity": quantity}
                    for sku, quantity in self.remaining(reference).items()
                    if quantity > 0
                ]
            site = state["document"].get("site") or self.sites[0]
            for line in lines:
                state["done"][line["sku"]] += line["quantity"]
                self.stock[(site, line["sku"])] += line["quantity"]
            if complete or not any(q > 0 for q in self.remaining(reference).values()):
                state["status"] = "received"
            return self.event(
                "receipt.confirmed",
                {
                    "receipt_id": receipt_id or f"RCV-{next(self._ids)}",
                    "received_at": now_iso(),
                    "receipt_complete": bool(complete),
                    "lines": lines,
                },
                order_ref=reference,
            )

    def adjustment(self, lines, site=None, adjustment_id=None):
        """``lines``: [(sku, delta, reason code)]."""
        site = site or self.sites[0]
        with self.lock:
            for sku, delta, _reason in lines:
                self.stock[(site, sku)] += delta
        return self.event(
            "inventory.adjusted",
            {
                "adjustment_id": adjustment_id or f"ADJ-{next(self._ids)}",
                "site": site,
                "lines": [
                    {"sku": sku, "delta": delta, "reason_code": reason}
                    for sku, delta, reason in lines
                ],
            },
        )

    def snapshot_events(self, page_size=1000, site=None, snapshot_id=None):
        """Every page of a snapshot of ``site`` as ``inventory.snapshot``
        events."""
        site = site or self.sites[0]
        snapshot_id = snapshot_id or f"SNAP-{next(self._ids)}"
        first = self.snapshot_page(site, 1, page_size, snapshot_id)
        pages = [first] + [
            self.snapshot_page(site, number, page_size, snapshot_id)
            for number in range(2, first["page_count"] + 1)
        ]
        return [self.event("inventory.snapshot", page) for page in pages]

    def return_received(self, reference, lines, return_id=None, rma=None):
        """``lines``: [(sku, quantity, condition)] or ``ReturnedLine`` dicts."""
        data = {
            "return_id": return_id or f"RET-{next(self._ids)}",
            "received_at": now_iso(),
            "lines": [
                line
                if isinstance(line, dict)
                else {"sku": line[0], "quantity": line[1], "condition": line[2]}
                for line in lines
            ],
        }
        if rma:
            data["rma"] = rma
        kw = {"order_ref": reference} if reference else {}
        return self.event("return.received", data, **kw)

    def deliver(self, events, order="as_is", duplicate=False, delay=0.0, seed=7):
        """Sign and POST ``events`` to the target: ``order`` is ``as_is``,
        ``reverse`` or ``shuffle``; ``duplicate`` sends each twice (the same
        id); ``delay`` seconds between deliveries. Returns the answers'
        status codes."""
        events = list(events)
        if order == "reverse":
            events.reverse()
        elif order == "shuffle":
            random.Random(seed).shuffle(events)
        statuses = []
        for index, event in enumerate(events):
            for _copy in range(2 if duplicate else 1):
                response = self._target.deliver(event, attempts=5)
                statuses.append(response.status_code)
                with self.lock:
                    self.sent.append(event)
                    self.answers.append((event["id"], response.status_code))
            if delay and index + 1 < len(events):
                time.sleep(delay)
        return statuses

    def send(self, *events, **kw):
        return self.deliver(events, **kw)


class _Handler(BaseHTTPRequestHandler):
    sim = None
    protocol_version = "HTTP/1.1"

    def _serve(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, headers, body = self.sim.handle(method, self.path, self.headers, raw)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server's naming
        self._serve("GET")

    def do_POST(self):  # noqa: N802
        self._serve("POST")

    def do_PUT(self):  # noqa: N802
        self._serve("PUT")

    def log_message(self, format, *args):  # noqa: A002 - silence the access log
        return


WmsSimulator.handler = _Handler


def all_sent_valid(events):
    """Check each event against the contract (raises on the first that is
    not); returns how many were checked."""
    for event in events:
        contract.check_event(event)
    return len(events)


__all__ = ["WmsSimulator", "DEFAULT_API_KEY", "contract", "all_sent_valid"]
