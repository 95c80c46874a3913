# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Warehouse API clients (plain Python, no ORM).

The flows talk to a warehouse through an *adapter*: an object with the
methods of :class:`WmsAdapter`, taking and returning the documents of the
published contract (``static/openapi/wms-v1.yaml``). :class:`WmsClient`
implements them for a WMS that speaks the contract itself; a 3PL with its
own API (ShipBob, ShipHero...) gets an adapter of its own that translates,
registered in :data:`ADAPTERS`, without touching the flows.

Errors, as the sync pipeline understands them:

* network errors, timeouts, HTTP 5xx and 429 → ``TransientError`` (429 and
  503 with their ``Retry-After``): retried later, in order;
* 401/403 → :class:`WmsAuthError` (a business error for IT);
* other 4xx → :class:`WmsRefused` (a business error, the WMS's answer kept):
  retrying does not help;
* the contract's answers that are not errors for Odoo (a duplicate
  reference on create, an unknown reference on cancel) are results.
"""

import logging
import math
from urllib.parse import quote

import requests

from odoo.addons.distribution_sync_core.errors import BusinessError, TransientError

_logger = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER = 30


class WmsRefused(BusinessError):
    """The WMS refused a request (4xx): not retried."""

    def __init__(self, message, status=None, error=None, **kw):
        kw.setdefault("category", "platform_rejected")
        category = kw.pop("category")
        super().__init__(category, message, **kw)
        self.status = status
        self.error = error


class WmsAuthError(WmsRefused):
    def __init__(self, message, **kw):
        kw.setdefault("team", "it")
        kw.setdefault("kind_key", "wms:auth")
        super().__init__(message, **kw)


class WmsAdapter:
    """What the flows need of a warehouse. Every method takes and returns the
    contract's documents; ``key`` is the idempotency key of a write."""

    def ping(self):
        """``{"account", "sites"}`` or raise."""
        raise NotImplementedError

    def upsert_products(self, products, key):
        """``{sku: "created" | "updated" | "unchanged"}``."""
        raise NotImplementedError

    def create_order(self, order, key):
        """``"created"`` or ``"duplicate"`` (the reference was known)."""
        raise NotImplementedError

    def update_order(self, order, key):
        """``"updated"`` or ``"unknown"`` (create it then); raises
        :class:`WmsRefused` when the order can no longer change."""
        raise NotImplementedError

    def cancel_order(self, reference, key, reason=None):
        """``"cancelled"`` or ``"unknown"``; raises :class:`WmsRefused` when
        it is too late."""
        raise NotImplementedError

    def create_inbound(self, inbound, key):
        raise NotImplementedError

    def update_inbound(self, inbound, key):
        raise NotImplementedError

    def cancel_inbound(self, reference, key, reason=None):
        raise NotImplementedError

    def snapshot_page(self, snapshot_id=None, page=1, page_size=1000, site=None):
        """One ``SnapshotPage`` of the warehouse's stock."""
        raise NotImplementedError


class WmsClient(WmsAdapter):
    """The contract's REST API (``X-Api-Key``, JSON, ``Idempotency-Key``)."""

    def __init__(self, base_url, api_key, timeout=20, session=None):
        if not base_url:
            raise WmsRefused(
                "The warehouse API URL is not set.", category="missing_mapping"
            )
        if not api_key:
            raise WmsAuthError("The warehouse API key is not set.")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.session = session or requests.Session()
        self.calls = 0

    # ------------------------------------------------------------------
    # the one request method
    # ------------------------------------------------------------------
    def request(self, method, path, body=None, key=None, params=None, accept=()):
        """``(status, JSON body)``; ``accept`` lists the non-2xx statuses that
        are answers, not errors (409 on create, 404 on cancel...)."""
        headers = {"X-Api-Key": self.api_key, "Accept": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        self.calls += 1
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                json=body,
                params=params,
                headers=headers,
                timeout=self.timeout,
            )
        except (requests.ConnectionError, requests.Timeout) as err:
            raise TransientError(
                f"the warehouse is unreachable ({type(err).__name__})"
            ) from err
        status = response.status_code
        try:
            payload = response.json() if response.content else {}
        except ValueError:
            payload = {}
        if 200 <= status < 300 or status in accept:
            return status, payload if isinstance(payload, dict) else {}
        what = f"{method} {path.split('?')[0]}"
        error = payload.get("error") if isinstance(payload, dict) else None
        if status == 429 or status >= 500:
            raise TransientError(
                f"the warehouse answered {status} to {what}",
                retry_after=_retry_after(response, status),
            )
        if status in (401, 403):
            raise WmsAuthError(
                f"The warehouse refused the API key (HTTP {status}).", status=status
            )
        detail = (
            payload.get("message") or error or "" if isinstance(payload, dict) else ""
        )
        raise WmsRefused(
            f"The warehouse refused {what} (HTTP {status}"
            + (f": {str(detail)[:200]}" if detail else "")
            + ").",
            status=status,
            error=error,
            details=response.text[:2000],
        )

    # ------------------------------------------------------------------
    # the contract's operations
    # ------------------------------------------------------------------
    def ping(self):
        return self.request("GET", "/v1/ping")[1]

    def upsert_products(self, products, key):
        _status, body = self.request(
            "PUT",
            "/v1/products",
            {"idempotency_key": key, "products": products},
            key=key,
        )
        return {row.get("sku"): row.get("status") for row in body.get("results") or []}

    def _create(self, path, kind, document, key):
        status, body = self.request(
            "POST",
            path,
            {"idempotency_key": key, kind: document},
            key=key,
            accept=(409,),
        )
        if status == 409:
            if body.get("error") == "duplicate_reference":
                return "duplicate"
            raise WmsRefused(
                f"The warehouse refused {kind} {document.get('reference')}: "
                f"{body.get('error') or 'conflict'}.",
                status=409,
                error=body.get("error"),
            )
        return "created"

    def _update(self, path, kind, document, key):
        status, _body = self.request(
            "PUT",
            f"{path}/{_quote(document['reference'])}",
            {"idempotency_key": key, kind: document},
            key=key,
            accept=(404,),
        )
        return "unknown" if status == 404 else "updated"

    def _cancel(self, path, reference, key, reason):
        status, _body = self.request(
            "POST",
            f"{path}/{_quote(reference)}/cancel",
            {"idempotency_key": key, "reason": reason or "cancelled in Odoo"},
            key=key,
            accept=(404,),
        )
        return "unknown" if status == 404 else "cancelled"

    def create_order(self, order, key):
        return self._create("/v1/orders", "order", order, key)

    def update_order(self, order, key):
        return self._update("/v1/orders", "order", order, key)

    def cancel_order(self, reference, key, reason=None):
        return self._cancel("/v1/orders", reference, key, reason)

    def create_inbound(self, inbound, key):
        return self._create("/v1/inbounds", "inbound", inbound, key)

    def update_inbound(self, inbound, key):
        return self._update("/v1/inbounds", "inbound", inbound, key)

    def cancel_inbound(self, reference, key, reason=None):
        return self._cancel("/v1/inbounds", reference, key, reason)

    def snapshot_page(self, snapshot_id=None, page=1, page_size=1000, site=None):
        params = {"page": page, "page_size": page_size}
        if snapshot_id:
            params["snapshot_id"] = snapshot_id
        if site:
            params["site"] = site
        return self.request("GET", "/v1/inventory", params=params)[1]


def _quote(reference):
    return quote(str(reference), safe="")


def _retry_after(response, status):
    try:
        return max(1, int(math.ceil(float(response.headers.get("Retry-After")))))
    except (TypeError, ValueError):
        return 2 if status == 429 else DEFAULT_RETRY_AFTER


# The adapters a backend can use (``dsync.backend.wms_adapter``): code →
# (label, factory(base_url, api_key, timeout)).
ADAPTERS = {
    "dsync_v1": ("Distribution Sync warehouse API v1", WmsClient),
}
