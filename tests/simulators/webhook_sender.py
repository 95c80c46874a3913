"""Signs and delivers webhooks the way each platform does (plain Python).

Used by the end-to-end tests and the README demo. A sender can deliver a
document once, twice (a redelivery with the same delivery id), and out of
order; it retries on non-2xx answers like the platforms do, with a bounded
number of attempts.
"""

import base64
import hashlib
import hmac
import json
import time
import uuid

import requests


class WebhookSender:
    """Base: ``sign(body)`` and ``headers_for(doc, delivery_id, topic)``."""

    path = None

    def __init__(self, base_url, token, secret, session=None, timeout=10):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.secret = secret.encode()
        self.session = session or requests.Session()
        self.timeout = timeout
        self.log = []  # (delivery id, status) of every attempt

    @property
    def url(self):
        return self.base_url + self.path.format(token=self.token)

    def body(self, doc):
        return json.dumps(doc, separators=(",", ":")).encode()

    def deliver(self, doc, topic=None, delivery_id=None, attempts=1, backoff=0.2):
        """POST one delivery; retry on 429/5xx up to ``attempts`` times."""
        delivery_id = delivery_id or uuid.uuid4().hex
        body = self.body(doc)
        response = None
        for attempt in range(attempts):
            headers = {"Content-Type": "application/json"}
            headers.update(self.headers_for(doc, body, delivery_id, topic))
            response = self.session.post(
                self.url, data=body, headers=headers, timeout=self.timeout
            )
            self.log.append((delivery_id, response.status_code))
            if response.status_code < 300 or response.status_code not in (
                429,
                500,
                502,
                503,
                504,
            ):
                break
            wait = response.headers.get("Retry-After")
            if attempt + 1 < attempts:
                time.sleep(min(float(wait or backoff), 2.0))
        return response

    def deliver_twice(self, doc, topic=None):
        delivery_id = uuid.uuid4().hex
        return (
            self.deliver(doc, topic, delivery_id),
            self.deliver(doc, topic, delivery_id),
        )


class ShopifySender(WebhookSender):
    path = "/dsync/shopify/{token}/webhook"

    def __init__(
        self, *args, shop_domain="demo-store.myshopify.com", api_version="2025-07", **kw
    ):
        super().__init__(*args, **kw)
        self.shop_domain = shop_domain
        self.api_version = api_version

    def headers_for(self, doc, body, delivery_id, topic):
        digest = hmac.new(self.secret, body, hashlib.sha256).digest()
        return {
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Topic": topic,
            "X-Shopify-Webhook-Id": delivery_id,
            "X-Shopify-Shop-Domain": self.shop_domain,
            "X-Shopify-API-Version": self.api_version,
            "X-Shopify-Triggered-At": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime()
            ),
        }


class WmsSender(WebhookSender):
    """The WMS puts its event id in the body: ``delivery_id`` becomes ``id``."""

    path = "/dsync/wms/{token}/events"

    def deliver(self, doc, topic=None, delivery_id=None, **kw):
        doc = dict(doc, id=delivery_id or doc.get("id") or uuid.uuid4().hex)
        if topic:
            doc["type"] = topic
        return super().deliver(doc, topic, doc["id"], **kw)

    def headers_for(self, doc, body, delivery_id, topic):
        stamp = str(int(time.time()))
        digest = hmac.new(
            self.secret, stamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        return {"X-Dsync-Signature": f"sha256={digest}", "X-Dsync-Timestamp": stamp}


class CarrierSender(WebhookSender):
    path = "/dsync/carrier/{token}/tracking"

    def deliver(self, doc, topic=None, delivery_id=None, **kw):
        doc = dict(doc, id=delivery_id or doc.get("id") or f"evt_{uuid.uuid4().hex}")
        if topic:
            doc["description"] = topic
        return super().deliver(doc, topic, doc["id"], **kw)

    def headers_for(self, doc, body, delivery_id, topic):
        digest = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        return {"X-Hmac-Signature": f"hmac-sha256-hex={digest}"}
