"""End to end: signed webhooks from each platform's sender, through the
Odoo route, the inbox and the job queue, to a result or an exception."""

from unittest.mock import patch

from odoo.tests import HttpCase

from odoo.addons.distribution_sync_core.tests.common import run_jobs

from tests.simulators.webhook_sender import CarrierSender, ShopifySender, WmsSender

SECRET = "e2e-secret"


class TestInboundEndToEnd(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Backend = cls.env["dsync.backend"]
        cls.backends = {
            kind: Backend.create(
                {
                    "name": f"e2e {kind}",
                    "backend_type": kind,
                    "inbound_rate_limit": 0,
                    "shopify_shop_domain": "demo-store.myshopify.com",
                }
            )
            for kind in ("shopify", "wms", "carrier")
        }
        for backend in cls.backends.values():
            backend._dsync_set_secret("webhook_secret", SECRET)

    def sender(self, kind):
        cls = {"shopify": ShopifySender, "wms": WmsSender, "carrier": CarrierSender}[
            kind
        ]
        return cls(
            self.base_url(), self.backends[kind].token, SECRET, session=self.opener
        )

    def events(self, kind):
        return self.env["dsync.event"].search(
            [("backend_id", "=", self.backends[kind].id)]
        )

    def test_wms_shipment_confirmed_once_despite_redelivery(self):
        """A WMS confirmation delivered twice is applied once, with its
        correlation id carried to the record it produced."""
        applied = []

        def process(backend, event):
            data = event._dsync_data()
            partner = backend.env["res.partner"].create(
                {"name": f"shipment {data['order_ref']}", "ref": data["id"]}
            )
            applied.append(event.id)
            return partner

        sender = self.sender("wms")
        doc = {
            "occurred_at": "2026-11-21T09:00:00Z",
            "sequence": 1,
            "order_ref": "WH/OUT/00042",
            "data": {
                "shipment_id": "SHP-42",
                "lines": [{"sku": "SKU-A", "quantity": 1}],
            },
            "correlation_id": "order-1001",
        }
        first, second = sender.deliver_twice(doc, topic="shipment.confirmed")
        self.assertEqual((first.status_code, second.status_code), (202, 200))
        with patch.object(
            self.registry["dsync.backend"],
            "_wms_process_shipment_confirmed",
            process,
            create=True,
        ):
            run_jobs(self.env)
        event = self.events("wms")
        self.assertEqual(len(event), 1)
        self.assertEqual(event.state, "done")
        self.assertEqual(len(applied), 1)
        self.assertEqual(event.correlation_id, "order-1001")
        self.assertEqual(event.res_model, "res.partner")

    def test_unhandled_topic_lands_in_exception_queue(self):
        """Nothing is dropped: tracking of a parcel no label knows (bought
        elsewhere on the account) is visible, once the tries for a purchase
        still committing are over."""
        response = self.sender("carrier").deliver(
            {
                "object": "Event",
                "created_at": "2026-11-21T09:00:00Z",
                "result": {
                    "object": "Tracker",
                    "id": "trk_elsewhere",
                    "tracking_code": "1ZELSEWHERE",
                    "status": "delivered",
                    "updated_at": "2026-11-21T08:59:00Z",
                    "tracking_details": [],
                },
            },
            topic="tracker.updated",
        )
        self.assertEqual(response.status_code, 202)
        run_jobs(self.env)
        event = self.events("carrier")
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.exception_ids.category, "unsupported")
        self.assertEqual(event.exception_ids.kind_key, "carrier:unknown_tracker")

    def test_reordered_shopify_updates_keep_latest(self):
        """Two updates of one order arriving newest first: the older one is
        recorded as stale and the record keeps the newest state."""
        partner = self.env["res.partner"].create({"name": "order #1001"})
        binding = self.env["dsync.binding"]._bind(
            self.backends["shopify"], partner, "820982911946154508"
        )

        def process(backend, event):
            data = event._dsync_data()
            event._dsync_guard_version(binding, event.source_timestamp)
            partner.comment = data["note"]
            binding.external_updated_at = event.source_timestamp
            return partner

        sender = self.sender("shopify")
        newer = {
            "id": 820982911946154508,
            "line_items": [],
            "note": "v2",
            "updated_at": "2026-11-21T10:05:00Z",
        }
        older = {
            "id": 820982911946154508,
            "line_items": [],
            "note": "v1",
            "updated_at": "2026-11-21T10:00:00Z",
        }
        self.assertEqual(sender.deliver(newer, "orders/updated").status_code, 202)
        self.assertEqual(sender.deliver(older, "orders/updated").status_code, 202)
        with patch.object(
            self.registry["dsync.backend"],
            "_shopify_process_orders_updated",
            process,
            create=True,
        ):
            run_jobs(self.env)
        states = dict(
            zip(
                self.events("shopify").mapped(lambda e: e._dsync_data()["note"]),
                self.events("shopify").mapped("state"),
                strict=True,
            )
        )
        self.assertEqual(states, {"v2": "done", "v1": "stale"})
        self.assertIn("v2", partner.comment)

    def test_health(self):
        response = self.url_open("/dsync/health")
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(body["status"], "ok")
        self.assertIsInstance(body["queue_depth"], int)
        self.assertEqual(set(body), {"status", "queue_depth"}, "no business data")
