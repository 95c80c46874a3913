# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The published contract: a valid OpenAPI 3.1 document, served by Odoo,
whose schemas the route applies to every event and Odoo's documents
follow."""

import json
import time

import yaml
from openapi_spec_validator import validate

from odoo.tests import HttpCase, tagged

from odoo.addons.distribution_sync_core.intake import rate_limiter

from ..contract import CONTRACT_PATH, EVENT_SCHEMAS, ContractError, check, check_event
from .common import WmsFixtures
from .test_webhook import wms_headers


@tagged("post_install", "-at_install")
class TestContract(WmsFixtures, HttpCase):
    def setUp(self):
        super().setUp()
        rate_limiter.reset()
        self.backend._dsync_set_secret("webhook_secret", "wms-contract-secret")

    def post(self, doc):
        body = json.dumps(doc).encode()
        headers = {"Content-Type": "application/json"}
        headers.update(wms_headers(body, "wms-contract-secret"))
        return self.opener.post(
            self.base_url() + f"/dsync/wms/{self.backend.token}/events",
            data=body,
            headers=headers,
            timeout=15,
        )

    def one_of_each(self):
        """An event of each of the contract's types, as the simulator (the
        warehouse) builds them: each is checked against the contract."""
        picking = self.delivery([(self.sku_a, 2)])
        self.release(picking)
        receipt = self.receipt([(self.sku_a, 2)])
        self.release(receipt)
        self.sim.set_stock({"WA-1": 3})
        return [
            self.sim.short(picking.name, [("WA-1", 1)]),
            self.sim.on_hold(picking.name, "address_invalid", "Flat number missing"),
            self.sim.shipment(picking.name, lines=[{"sku": "WA-1", "quantity": 1}]),
            self.sim.cancelled(picking.name),
            self.sim.receipt(receipt.name),
            self.sim.adjustment([("WA-1", 1, "found")]),
            *self.sim.snapshot_events(),
            self.sim.return_received(picking.name, [("WA-1", 1, "damaged")]),
        ]

    def test_document_is_valid_openapi_31_and_served(self):
        with open(CONTRACT_PATH, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
        validate(document)
        self.assertEqual(document["openapi"], "3.1.0")
        self.assertEqual(
            set(document["components"]["schemas"]["EventType"]["enum"]),
            set(EVENT_SCHEMAS),
        )
        path = self.backend.wms_contract_url
        response = self.url_open(path)
        self.assertEqual(response.status_code, 200)
        self.assertIn(b"openapi: 3.1.0", response.content)
        route = document["paths"]["/dsync/wms/{token}/events"]["post"]
        for example in route["requestBody"]["content"]["application/json"][
            "examples"
        ].values():
            check_event(example["value"])

    def test_every_type_accepted_by_the_route_with_its_sequence(self):
        docs = self.one_of_each()
        self.assertEqual({doc["type"] for doc in docs}, set(EVENT_SCHEMAS))
        for doc in docs:
            check_event(doc)
            response = self.post(doc)
            self.assertEqual(response.status_code, 202, (doc["type"], response.text))
            event = self.env["dsync.event"].browse(response.json()["event"])
            self.assertEqual(event.topic, doc["type"])
            if doc["type"] == "inventory.snapshot":
                self.assertEqual(
                    event.sequence_key, f"snapshot:{doc['data']['snapshot_id']}"
                )
            elif doc.get("order_ref") and doc["type"] != "return.received":
                self.assertEqual(
                    (event.sequence_key, event.sequence),
                    (f"order:{doc['order_ref']}", doc["sequence"]),
                )

    def test_shapes_refused_by_the_route(self):
        picking = self.delivery([(self.sku_a, 2)])
        self.release(picking)
        good = self.sim.shipment(
            picking.name, lines=[{"sku": "WA-1", "quantity": 1, "package_ref": "B"}]
        )

        def variant(change):
            doc = json.loads(json.dumps(good))
            doc["id"] = f"evt-{time.time_ns()}"
            change(doc)
            return doc

        cases = [
            (
                lambda d: d["data"]["lines"][0].update(quantity=-2),
                "data.lines[0].quantity must be more than its minimum",
            ),
            (
                lambda d: d["data"]["lines"][0].update(quantity="two"),
                "data.lines[0].quantity has the wrong type",
            ),
            (
                lambda d: d["data"]["lines"][0].update(quantity=0),
                "data.lines[0].quantity must be more than its minimum",
            ),
            (lambda d: d.pop("sequence"), "sequence is missing"),
            (lambda d: d.update(sequence=0), "sequence is below its minimum"),
            (lambda d: d.pop("order_ref"), "order_ref is missing"),
            (lambda d: d["data"].pop("shipment_id"), "data.shipment_id is missing"),
            (lambda d: d["data"].update(lines=[]), "data.lines has too few items"),
            (
                lambda d: d["data"]["lines"][0].update(sku=""),
                "data.lines[0].sku is empty",
            ),
            (
                lambda d: d["data"]["packages"][0].update(weight_uom="stone"),
                "is not one of the allowed values",
            ),
        ]
        for change, reason in cases:
            doc = variant(change)
            with self.assertRaises(ContractError):
                check_event(doc)
            response = self.post(doc)
            self.assertEqual(response.status_code, 400, reason)
            self.assertIn(reason, response.json()["reason"])
            rejected = self.env["dsync.event"].search(
                [("backend_id", "=", self.backend.id), ("state", "=", "rejected")],
                order="id desc",
                limit=1,
            )
            self.assertIn(reason, rejected.reject_reason)
            self.assertNotIn("Traceback", response.text)

    def test_documents_odoo_sends_follow_the_contract(self):
        picking = self.delivery([(self.sku_a, 2), (self.lotted, 1)], confirm=False)
        picking.action_confirm()
        receipt = self.receipt([(self.sku_a, 2)])
        backend = self.backend
        check(
            "ProductBatch",
            {
                "idempotency_key": "k",
                "products": [
                    backend._wms_product_document(p)
                    for p in (self.sku_a, self.lotted, self.serial)
                ],
            },
        )
        check(
            "OrderRequest",
            {
                "idempotency_key": "k",
                "order": backend._wms_document(picking, picking.name, 1),
            },
        )
        check(
            "InboundRequest",
            {
                "idempotency_key": "k",
                "inbound": backend._wms_document(receipt, receipt.name, 1),
            },
        )
        self.assertEqual(backend._wms_product_document(self.lotted)["tracking"], "lot")
