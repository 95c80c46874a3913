# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""EasyPost API v2 adapter (plain Python, no ORM).

:class:`EasyPostClient` speaks HTTP (one pooled ``requests.Session``,
``Authorization: Bearer <API key>``, JSON bodies wrapped as EasyPost wants
them: ``{"shipment": {...}}``) and turns EasyPost's answers into the
pipeline's errors; :class:`EasyPostPlatform` maps its objects to those of
``base.py``.

Webhooks: :func:`verify_signature` checks ``X-Hmac-Signature:
hmac-sha256-hex=<hex HMAC-SHA256 of the raw body>`` keyed with the webhook
secret normalised to NFKD, as EasyPost's own client libraries do
(``validate_webhook``); :func:`describe_event` checks that a body is an
EasyPost ``Event`` of a declared description with the shape of its result.
"""

import hashlib
import hmac
import math
import unicodedata
from datetime import datetime, timezone

import requests

from odoo.addons.distribution_sync_core.errors import TransientError
from odoo.addons.distribution_sync_core.intake import (
    MAX_ID_LENGTH,
    MAX_TOPIC_LENGTH,
    InvalidDelivery,
    parse_utc,
    text_value,
)

from .base import (
    AddressError,
    AlreadyBought,
    CarrierPlatform,
    NotFound,
    PlatformAuthError,
    PlatformRejected,
    PlatformTimeout,
    Rate,
    RefundUpdate,
    Shipment,
    TrackerUpdate,
    TrackingDetail,
)

DEFAULT_URL = "https://api.easypost.com/v2"
SIGNATURE_HEADER = "X-Hmac-Signature"
SIGNATURE_PREFIX = "hmac-sha256-hex="
DEFAULT_RETRY_AFTER = 10
# Tracker statuses (EasyPost) -> canonical statuses. ``error`` means EasyPost
# could not read the carrier's tracking, not that the parcel failed.
STATUS_MAP = {
    "pre_transit": "pre_transit",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "delivered": "delivered",
    "available_for_pickup": "available_for_pickup",
    "return_to_sender": "return_to_sender",
    "failure": "failure",
    "cancelled": "cancelled",
    "error": "unknown",
    "unknown": "unknown",
}
# status_detail values that are a delivery attempt whatever the status says
ATTEMPT_DETAILS = {"failed_attempt", "attempted_delivery", "delivery_attempted"}
# Fields of an address EasyPost may name in a 422.
ADDRESS_FIELDS = {
    "address",
    "name",
    "company",
    "street1",
    "street2",
    "city",
    "state",
    "zip",
    "country",
    "phone",
    "email",
}

# Event descriptions a carrier backend declares (see docs/carrier.md). The
# tracker ones move shipments; ``refund.successful`` settles a label's
# refund; the others are EasyPost's account events, which EasyPost sends to
# every webhook of the account: acknowledged and kept, not used.
TRACKER_TOPICS = ("tracker.created", "tracker.updated")
REFUND_TOPICS = ("refund.successful",)
ACCOUNT_TOPICS = (
    "batch.created",
    "batch.updated",
    "scan_form.created",
    "scan_form.updated",
    "report.new",
    "report.empty",
    "report.available",
    "report.failed",
    "payment.created",
    "payment.completed",
    "payment.failed",
    "insurance.purchased",
    "insurance.cancelled",
    "claims.submitted",
    "claims.cancelled",
    "claims.updated",
    "claims.rejected",
    "claims.approved",
    "claim.submitted",
    "claim.cancelled",
    "claim.updated",
    "claim.rejected",
    "claim.approved",
    "shipment.invoice.created",
    "shipment.invoice.updated",
)
MAX_TRACKING_DETAILS = 500


# --------------------------------------------------------------------------
# webhooks
# --------------------------------------------------------------------------
def signing_key(secret):
    """The HMAC key of a webhook secret: NFKD-normalised, UTF-8 encoded."""
    return unicodedata.normalize("NFKD", secret).encode("utf-8")


def sign(secret, raw_body):
    """The ``X-Hmac-Signature`` value EasyPost sends for ``raw_body``."""
    digest = hmac.new(signing_key(secret), raw_body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(secret, raw_body, header):
    """True when ``header`` is EasyPost's signature of ``raw_body`` with
    ``secret`` (compared in constant time)."""
    if not secret or not header or len(header) > 256:
        return False
    expected = sign(secret, raw_body).encode()
    return hmac.compare_digest(expected, header.strip().encode("latin-1", "replace"))


def describe_event(payload, topics):
    """(event id, description, source time) of an EasyPost ``Event`` whose
    description is one of ``topics`` and whose ``result`` has the shape of
    its description. Raises ``InvalidDelivery``."""
    if payload.get("object") != "Event":
        raise InvalidDelivery("the body is not an EasyPost Event object")
    event_id = text_value(payload.get("id"), "event id")
    topic = text_value(
        payload.get("description"), "event description", MAX_TOPIC_LENGTH
    )
    if topic not in topics:
        raise InvalidDelivery("the event description is not one this backend accepts")
    result = payload.get("result")
    if not isinstance(result, dict):
        raise InvalidDelivery("the event has no 'result' object")
    stamp = parse_utc(payload.get("created_at"), "event created_at")
    if topic in TRACKER_TOPICS:
        tracker = parse_tracker(result)
        stamp = tracker.newest_time or stamp
    elif topic in REFUND_TOPICS:
        parse_refund(result)
    return event_id, topic, stamp


def _text(value, what, max_length=MAX_ID_LENGTH, required=False):
    return text_value(value, what, max_length, required=required) or ""


def _free_text(value, what, max_length=1000):
    """A carrier's message: any printable text, cut to ``max_length``."""
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise InvalidDelivery(f"{what} must be a string")
    text = " ".join(str(value).split())
    return text[:max_length]


def parse_tracker(data):
    """A ``Tracker`` object as a :class:`TrackerUpdate` (raises
    ``InvalidDelivery`` for anything else)."""
    if not isinstance(data, dict) or data.get("object") != "Tracker":
        raise InvalidDelivery("the event result is not a Tracker")
    platform_status = _text(data.get("status"), "tracker status", 64) or "unknown"
    status_detail = _text(data.get("status_detail"), "tracker status_detail", 64)
    details = data.get("tracking_details") or []
    if not isinstance(details, list):
        raise InvalidDelivery("tracking_details must be an array")
    if len(details) > MAX_TRACKING_DETAILS:
        raise InvalidDelivery(f"more than {MAX_TRACKING_DETAILS} tracking details")
    signed_by = data.get("signed_by")
    return TrackerUpdate(
        tracker_id=_text(data.get("id"), "tracker id", required=True),
        tracking_code=_text(data.get("tracking_code"), "tracking_code", required=True),
        status=canonical_status(platform_status, status_detail),
        platform_status=platform_status,
        status_detail=status_detail,
        updated_at=parse_utc(data.get("updated_at"), "tracker updated_at"),
        shipment_id=_text(data.get("shipment_id"), "shipment_id"),
        carrier=_text(data.get("carrier"), "carrier", 64),
        signed_by=_free_text(signed_by, "signed_by", 128),
        public_url=_text(data.get("public_url"), "public_url", 1000),
        details=[_parse_detail(detail, index) for index, detail in enumerate(details)],
    )


def _parse_detail(detail, index):
    what = f"tracking_details[{index}]"
    if not isinstance(detail, dict):
        raise InvalidDelivery(f"{what} is not an object")
    occurred = parse_utc(detail.get("datetime"), f"{what}.datetime")
    if occurred is None:
        raise InvalidDelivery(f"{what} has no datetime")
    status = _text(detail.get("status"), f"{what}.status", 64) or "unknown"
    code = _text(detail.get("status_detail"), f"{what}.status_detail", 64)
    location = detail.get("tracking_location") or {}
    if not isinstance(location, dict):
        raise InvalidDelivery(f"{what}.tracking_location is not an object")
    parts = {
        key: _free_text(location.get(key), f"{what}.tracking_location.{key}", 64)
        for key in ("city", "state", "zip", "country")
    }
    place = ", ".join(
        part
        for part in (
            parts["city"],
            " ".join(p for p in (parts["state"], parts["zip"]) if p),
            parts["country"],
        )
        if part
    )
    return TrackingDetail(
        occurred_at=occurred,
        status=canonical_status(status, code),
        message=_free_text(detail.get("message") or detail.get("description"), what),
        detail_code=code,
        place=place,
        **parts,
    )


def canonical_status(status, status_detail=""):
    if status_detail in ATTEMPT_DETAILS and status not in ("delivered",):
        return "attempted_delivery"
    return STATUS_MAP.get(status, "unknown")


def parse_refund(data):
    """A ``Refund`` object (``refund.successful``) as a :class:`RefundUpdate`."""
    if not isinstance(data, dict) or data.get("object") != "Refund":
        raise InvalidDelivery("the event result is not a Refund")
    return RefundUpdate(
        shipment_id=_text(data.get("shipment_id"), "shipment_id", required=True),
        status=_text(data.get("status"), "refund status", 32) or "refunded",
        tracking_code=_text(data.get("tracking_code"), "tracking_code"),
    )


# --------------------------------------------------------------------------
# the API client
# --------------------------------------------------------------------------
class EasyPostClient:
    """EasyPost's REST API v2 for one API key. Every call has a timeout."""

    def __init__(self, base_url, api_key, timeout=20, session=None):
        if not api_key:
            raise PlatformAuthError("The EasyPost API key is not set.")
        self.base_url = (base_url or DEFAULT_URL).rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.session = session or requests.Session()
        self.calls = 0

    def request(self, method, path, body=None):
        self.calls += 1
        url = f"{self.base_url}{path}"
        try:
            response = self.session.request(
                method,
                url,
                json=body,
                headers={
                    "Authorization": f"Bearer {self.api_key}",
                    "Accept": "application/json",
                },
                timeout=self.timeout,
            )
        except requests.Timeout as err:
            raise PlatformTimeout(
                f"EasyPost did not answer {method} {path} in time"
            ) from err
        except requests.RequestException as err:
            raise TransientError(
                f"EasyPost is unreachable ({type(err).__name__})"
            ) from err
        return self._interpret(response, method, path)

    def _interpret(self, response, method, path):
        status = response.status_code
        try:
            payload = response.json() if response.content else {}
        except ValueError:
            payload = None
        if 200 <= status < 300:
            if not isinstance(payload, dict):
                raise TransientError(
                    f"EasyPost answered {method} {path} with no JSON object"
                )
            return payload
        error = (payload or {}).get("error") if isinstance(payload, dict) else None
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code") or "")
        message = str(error.get("message") or response.reason or status)
        if status == 429:
            raise TransientError(
                f"EasyPost rate limit ({code or 429}): {message}",
                retry_after=_retry_after(response, DEFAULT_RETRY_AFTER),
            )
        if status >= 500 or status == 408:
            raise TransientError(
                f"EasyPost answered {status} to {method} {path}",
                retry_after=_retry_after(response, None),
            )
        if status in (401, 403):
            raise PlatformAuthError(
                f"EasyPost refused the API key (HTTP {status}): {message}"
            )
        if status == 404:
            raise NotFound(f"EasyPost has no {path} ({message})")
        field_errors = _field_errors(error.get("errors"))
        if status == 422 and (
            code.startswith("ADDRESS")
            or any(f in ADDRESS_FIELDS for f, _m in field_errors)
        ):
            raise AddressError(
                message, fields=field_errors, details=response.text[:2000]
            )
        if "POSTAGE.EXISTS" in code or "ALREADY" in code.upper():
            raise AlreadyBought(f"EasyPost: {message} ({code})")
        raise PlatformRejected(
            f"EasyPost refused {method} {path} (HTTP {status}, {code or '-'}): "
            f"{message}" + "".join(f"; {f}: {m}" for f, m in field_errors),
            details=response.text[:2000],
        )

    # operations ----------------------------------------------------------
    def create_shipment(self, shipment):
        return self.request("POST", "/shipments", {"shipment": shipment})

    def retrieve_shipment(self, shipment_id):
        return self.request("GET", f"/shipments/{shipment_id}")

    def buy_shipment(self, shipment_id, rate_id, insurance=None):
        body = {"rate": {"id": rate_id}}
        if insurance:
            body["insurance"] = insurance
        return self.request("POST", f"/shipments/{shipment_id}/buy", body)

    def refund_shipment(self, shipment_id):
        return self.request("POST", f"/shipments/{shipment_id}/refund")

    def retrieve_tracker(self, tracker_id):
        return self.request("GET", f"/trackers/{tracker_id}")

    def download(self, url):
        """A label document's bytes. The API key goes only to EasyPost's
        own address: label files live on a storage host."""
        headers = {}
        if url.startswith(self.base_url.rsplit("/v2", 1)[0]):
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            response = self.session.get(url, headers=headers, timeout=self.timeout)
        except requests.Timeout as err:
            raise PlatformTimeout("the label document did not arrive in time") from err
        except requests.RequestException as err:
            raise TransientError(
                f"the label document could not be fetched ({type(err).__name__})"
            ) from err
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(f"the label document: HTTP {response.status_code}")
        if response.status_code != 200:
            raise PlatformRejected(f"the label document: HTTP {response.status_code}")
        return response.content


def _retry_after(response, default):
    try:
        return max(1, int(math.ceil(float(response.headers.get("Retry-After")))))
    except (TypeError, ValueError):
        return default


def _field_errors(errors):
    """[(field, message)] of EasyPost's ``errors`` (FieldError objects or
    plain strings)."""
    result = []
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, dict):
            result.append(
                (str(error.get("field") or ""), str(error.get("message") or ""))
            )
        elif error:
            result.append(("", str(error)))
    return result


# --------------------------------------------------------------------------
# the adapter
# --------------------------------------------------------------------------
class EasyPostPlatform(CarrierPlatform):
    code = "easypost"
    label = "EasyPost"

    def __init__(self, client):
        self.client = client

    # requests ------------------------------------------------------------
    @staticmethod
    def shipment_body(request):
        """The ``shipment`` object EasyPost creates a shipment from."""
        parcel = {"weight": round(max(request.parcel.weight_oz, 0.1), 1)}
        for key, value in (
            ("length", request.parcel.length_in),
            ("width", request.parcel.width_in),
            ("height", request.parcel.height_in),
        ):
            if value:
                parcel[key] = round(value, 1)
        if request.parcel.predefined_package:
            parcel["predefined_package"] = request.parcel.predefined_package
        options = {"label_format": request.label_format}
        if request.signature:
            options["delivery_confirmation"] = request.signature
        if request.print_custom:
            options["print_custom_1"] = request.print_custom
        body = {
            "reference": request.reference,
            "to_address": _address(request.to_address),
            "from_address": _address(request.from_address),
            "parcel": parcel,
            "options": options,
        }
        if request.carrier_accounts:
            body["carrier_accounts"] = list(request.carrier_accounts)
        return body

    def create_shipment(self, request):
        return self.to_shipment(
            self.client.create_shipment(self.shipment_body(request))
        )

    def get_shipment(self, shipment_id):
        return self.to_shipment(self.client.retrieve_shipment(shipment_id))

    def buy(self, shipment_id, rate_id, insurance=None):
        return self.to_shipment(
            self.client.buy_shipment(shipment_id, rate_id, insurance)
        )

    def refund(self, shipment_id):
        data = self.client.refund_shipment(shipment_id)
        return str(data.get("refund_status") or "submitted")

    def get_tracker(self, tracker_id):
        try:
            return parse_tracker(self.client.retrieve_tracker(tracker_id))
        except InvalidDelivery as err:
            raise PlatformRejected(
                f"EasyPost gave a tracker that cannot be read: {err}"
            ) from err

    def fetch_document(self, url):
        return self.client.download(url)

    # answers -------------------------------------------------------------
    @staticmethod
    def to_rate(data):
        try:
            amount = float(data.get("rate"))
        except (TypeError, ValueError):
            amount = math.inf
        days = data.get("delivery_days") or data.get("est_delivery_days")
        return Rate(
            id=str(data.get("id") or ""),
            carrier=str(data.get("carrier") or ""),
            service=str(data.get("service") or ""),
            amount=amount,
            currency=str(data.get("currency") or "USD"),
            delivery_days=days if isinstance(days, int) else None,
            carrier_account_id=str(data.get("carrier_account_id") or ""),
        )

    @classmethod
    def to_shipment(cls, data):
        if data.get("object") not in (None, "Shipment") or not data.get("id"):
            raise PlatformRejected("EasyPost's answer is not a Shipment")
        label = data.get("postage_label") or {}
        urls = {}
        for fmt, key in (
            ("PDF", "label_pdf_url"),
            ("ZPL", "label_zpl_url"),
            ("PNG", "label_url"),
        ):
            if label.get(key):
                urls[fmt] = label[key]
        tracker = data.get("tracker") or {}
        selected = data.get("selected_rate")
        return Shipment(
            id=str(data["id"]),
            rates=[
                cls.to_rate(rate)
                for rate in data.get("rates") or []
                if isinstance(rate, dict)
            ],
            selected_rate=cls.to_rate(selected) if isinstance(selected, dict) else None,
            tracking_code=str(data.get("tracking_code") or ""),
            tracker_id=str(tracker.get("id") or ""),
            public_url=str(tracker.get("public_url") or ""),
            label_urls=urls,
            refund_status=str(data.get("refund_status") or ""),
            mode=str(data.get("mode") or ""),
        )


def _address(address):
    values = {
        "name": address.name,
        "company": address.company,
        "street1": address.street1,
        "street2": address.street2,
        "city": address.city,
        "state": address.state,
        "zip": address.zip,
        "country": address.country,
        "phone": address.phone,
        "email": address.email,
    }
    return {key: value for key, value in values.items() if value}


def utc_iso(moment=None):
    """EasyPost's time format (for the simulator and tests)."""
    moment = moment or datetime.now(timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
