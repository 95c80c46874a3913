# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What the flows ask of a carrier platform (plain Python, no ORM).

The flows of ``connector_carrier`` (rates on a quotation, label purchase,
refunds, tracking) speak only in the terms of this module: the request and
result objects below, and the methods of :class:`CarrierPlatform`. An
adapter per platform (``easypost.py``) maps them to its API; a second
platform (ShipEngine, Sendcloud...) is one more adapter, and the flows do not
change.

Errors are the pipeline's own (``distribution_sync_core.errors``): network
trouble, 429 and 5xx are ``TransientError`` (retried with backoff), and
:class:`PlatformTimeout` says that the platform may have acted before the
answer was lost; what retrying cannot fix is a ``BusinessError`` (an address
the platform cannot verify names the field).
"""

import dataclasses
from datetime import datetime

from odoo.addons.distribution_sync_core.errors import BusinessError, TransientError

# Canonical shipment statuses (those of ``dsync.shipment.milestone``).
STATUSES = (
    "pre_transit",
    "shipped",
    "in_transit",
    "out_for_delivery",
    "attempted_delivery",
    "available_for_pickup",
    "delivered",
    "return_to_sender",
    "failure",
    "cancelled",
    "unknown",
)
LABEL_FORMATS = ("PDF", "ZPL")


class PlatformTimeout(TransientError):
    """No answer in time: the platform may have done what was asked."""


class PlatformRejected(BusinessError):
    """The platform refused the request (4xx other than 429): not retried."""

    def __init__(self, message, category="platform_rejected", **kw):
        super().__init__(category, message, **kw)


class PlatformAuthError(PlatformRejected):
    """The API key is missing, wrong or not allowed to do this."""

    def __init__(self, message, **kw):
        kw.setdefault("team", "it")
        kw.setdefault("kind_key", "carrier:auth")
        super().__init__(message, **kw)


class AddressError(PlatformRejected):
    """The platform could not verify an address: ``fields`` is
    [(field, message)] as the platform gave them."""

    def __init__(self, message, fields=(), **kw):
        super().__init__(message, category="invalid_address", **kw)
        self.fields = list(fields)


class AlreadyBought(PlatformRejected):
    """The platform says the shipment already has postage."""


class NotFound(PlatformRejected):
    """The platform has no such object."""


class LabelDocumentError(PlatformRejected):
    """The label document is not what its format says (not a PDF, not ZPL)."""


@dataclasses.dataclass
class Address:
    name: str = ""
    company: str = ""
    street1: str = ""
    street2: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""
    phone: str = ""
    email: str = ""


@dataclasses.dataclass
class Parcel:
    """Weight in ounces, dimensions in inches (what US platforms take)."""

    weight_oz: float
    length_in: float = 0.0
    width_in: float = 0.0
    height_in: float = 0.0
    predefined_package: str = ""


@dataclasses.dataclass
class ShipmentRequest:
    reference: str
    from_address: Address
    to_address: Address
    parcel: Parcel
    label_format: str = "PDF"
    carrier_accounts: list = dataclasses.field(default_factory=list)
    signature: str = ""  # "", "SIGNATURE", "ADULT_SIGNATURE"
    print_custom: str = ""


@dataclasses.dataclass
class Rate:
    id: str
    carrier: str
    service: str
    amount: float
    currency: str
    delivery_days: int | None = None
    carrier_account_id: str = ""


@dataclasses.dataclass
class Shipment:
    id: str
    rates: list
    selected_rate: Rate | None = None
    tracking_code: str = ""
    tracker_id: str = ""
    public_url: str = ""
    label_urls: dict = dataclasses.field(default_factory=dict)  # format -> url
    refund_status: str = ""
    mode: str = ""

    @property
    def bought(self):
        """True once postage was bought for the shipment."""
        return bool(self.tracking_code and self.label_urls)


@dataclasses.dataclass
class TrackingDetail:
    occurred_at: datetime
    status: str  # canonical
    message: str = ""
    detail_code: str = ""
    place: str = ""
    city: str = ""
    state: str = ""
    country: str = ""
    zip: str = ""


@dataclasses.dataclass
class TrackerUpdate:
    tracker_id: str
    tracking_code: str
    status: str  # canonical
    platform_status: str = ""
    status_detail: str = ""
    updated_at: datetime | None = None
    shipment_id: str = ""
    carrier: str = ""
    signed_by: str = ""
    public_url: str = ""
    details: list = dataclasses.field(default_factory=list)

    @property
    def newest_time(self):
        times = [d.occurred_at for d in self.details]
        if self.updated_at:
            times.append(self.updated_at)
        return max(times) if times else None


@dataclasses.dataclass
class RefundUpdate:
    shipment_id: str
    status: str
    tracking_code: str = ""


class CarrierPlatform:
    """What a platform adapter implements. Every method talks to the
    platform; none touches Odoo."""

    code = None
    label = None

    def create_shipment(self, request):
        """A new shipment with its rates (nothing bought): :class:`Shipment`."""
        raise NotImplementedError

    def get_shipment(self, shipment_id):
        raise NotImplementedError

    def buy(self, shipment_id, rate_id, insurance=None):
        """Buy ``rate_id`` for the shipment: the bought :class:`Shipment`.
        There is no idempotency key: the caller reads the shipment back
        before buying again."""
        raise NotImplementedError

    def refund(self, shipment_id):
        """Ask for a refund of the postage: the refund status."""
        raise NotImplementedError

    def get_tracker(self, tracker_id):
        """:class:`TrackerUpdate` of a tracker, read from the platform."""
        raise NotImplementedError

    def fetch_document(self, url):
        """The bytes of a label document."""
        raise NotImplementedError


def select_rate(rates, services=(), carrier="", cheapest=False):
    """The rate a delivery method asks for among ``rates``: the one of its
    service (the first of ``services``), or the cheapest of ``services``
    (any service when empty) with ``cheapest``; ``carrier`` filters by the
    platform's carrier name. None when none fits."""
    wanted = [s.strip().lower() for s in services if s and s.strip()]
    candidates = [
        rate
        for rate in rates
        if (not carrier or rate.carrier.lower() == carrier.strip().lower())
        and (not wanted or rate.service.lower() in wanted)
    ]
    if not candidates:
        return None
    if cheapest or not wanted:
        return min(candidates, key=lambda rate: rate.amount)
    for service in wanted:
        for rate in candidates:
            if rate.service.lower() == service:
                return rate
    return None


def check_document(content, file_format):
    """Raise :class:`LabelDocumentError` unless ``content`` is a document of
    ``file_format`` (PDF: ``%PDF-`` ... ``%%EOF``; ZPL: ``^XA`` ... ``^XZ``
    in printable text; PNG: its signature)."""
    if not isinstance(content, bytes | bytearray) or not content:
        raise LabelDocumentError(f"The {file_format} label document is empty.")
    if file_format == "PDF":
        if content.startswith(b"%PDF-") and b"%%EOF" in content[-1024:]:
            return
    elif file_format == "ZPL":
        try:
            text = bytes(content).decode("ascii").strip()
        except UnicodeDecodeError:
            text = ""
        if text.startswith("^XA") and "^XZ" in text:
            return
    elif file_format == "PNG":
        if content.startswith(b"\x89PNG\r\n\x1a\n"):
            return
    raise LabelDocumentError(
        f"The label document the platform gave is not a {file_format} document "
        f"({len(content)} bytes starting with {bytes(content[:8])!r})."
    )
