# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import base64
import hashlib
import hmac

from odoo.tests import HttpCase, tagged

from odoo.addons.distribution_sync_core.models.dsync_exception import SECURITY_CURSOR
from odoo.addons.distribution_sync_core.tests.webhook_common import (
    SECRET,
    WebhookContract,
)


def shopify_hmac(body, secret=SECRET):
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode()}


@tagged("post_install", "-at_install")
class TestShopifyWebhook(WebhookContract, HttpCase):
    backend_type = "shopify"
    backend_values = {"shopify_shop_domain": "demo-store.myshopify.com"}

    def route(self, token):
        return f"/dsync/shopify/{token}/webhook"

    def sign(self, body, secret=SECRET):
        return shopify_hmac(body, secret)

    def delivery(self, dedup):
        doc = {
            "id": 820982911946154508,
            "name": "#1001",
            "updated_at": "2026-11-20T12:00:00-05:00",
            "line_items": [{"sku": "SKU-1", "quantity": 1}],
        }
        headers = {
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": dedup,
            "X-Shopify-Shop-Domain": "demo-store.myshopify.com",
            "X-Shopify-API-Version": "2025-07",
        }
        return doc, headers

    def test_headers_and_source_time(self):
        dedup = self.new_dedup()
        doc, headers = self.delivery(dedup)
        self.post(doc, headers)
        event = self.events(dedup_key=dedup)
        self.assertEqual(event.topic, "orders/create")
        self.assertEqual(
            str(event.source_timestamp), "2026-11-20 17:00:00", "stored in UTC"
        )
        self.assertEqual(
            event.headers["X-Shopify-Shop-Domain"], "demo-store.myshopify.com"
        )
        self.assertNotIn(
            "X-Shopify-Hmac-Sha256", event.headers, "signatures are not kept"
        )
        self.backend._dsync_dispatch_events()
        self.assertEqual(
            event.job_id.channel, f"root.dsync.shopify_{self.backend.id}.orders"
        )

    def test_missing_webhook_id_is_400(self):
        doc, headers = self.delivery(self.new_dedup())
        del headers["X-Shopify-Webhook-Id"]
        response = self.post(doc, headers)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.events(state="rejected").topic, "orders/create")

    def test_same_order_two_deliveries_two_events(self):
        # Shopify may send orders/updated twice with different webhook ids:
        # both are stored; staleness is decided when they are processed.
        doc, headers = self.delivery(self.new_dedup())
        self.assertEqual(self.post(doc, headers).status_code, 202)
        headers["X-Shopify-Webhook-Id"] = self.new_dedup()
        self.assertEqual(self.post(doc, headers).status_code, 202)
        self.backend._dsync_dispatch_events()
        self.assertEqual(len(self.events(state="queued")), 2)

    def test_wrong_secret_raises_one_exception_for_it(self):
        """Deliveries refused for a bad signature become one security
        exception for IT (not one per delivery), from a cron: nothing of it
        runs in the webhook request."""
        self.env.flush_all()
        self.env.cr.execute("SELECT COALESCE(max(id), 0) FROM dsync_event")
        self.env["ir.config_parameter"].sudo().set_param(
            SECURITY_CURSOR, str(self.env.cr.fetchone()[0])
        )
        for _n in range(4):
            doc, headers = self.delivery(self.new_dedup())
            response = self.post(doc, headers, secret="the-old-secret")
            self.assertEqual(response.status_code, 401)
        Exception = self.env["dsync.exception"]
        domain = [("backend_id", "=", self.backend.id), ("category", "=", "security")]
        self.assertFalse(Exception.search(domain), "nothing in the request path")
        Exception._cron_dsync_security_scan()
        alert = Exception.search(domain)
        self.assertEqual(len(alert), 1)
        self.assertEqual((alert.team, alert.occurrences), ("it", 4))
        refused = self.events(state="rejected")
        self.assertEqual(alert.last_seen_at, max(refused.mapped("create_date")))
        self.assertIn("Refused deliveries", alert.name)
        # a good delivery is still accepted, and the alert stays for IT
        doc, headers = self.delivery(self.new_dedup())
        self.assertEqual(self.post(doc, headers).status_code, 202)
        Exception._cron_dsync_security_scan()
        self.assertEqual(Exception.search(domain).occurrences, 4)
