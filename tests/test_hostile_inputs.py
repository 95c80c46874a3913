"""Hostile input on every public route, as an attacker sends it.

For each webhook route (Shopify, WMS, carrier) and the health route: every
header and body field the intake reads, at its limits and past them, with
valid and invalid signatures, in each content type and method. Each case
asserts the exact status, that nothing is processed without a valid
signature, that every rejected delivery of a known backend is stored with
its reason, that no answer carries internal detail, and that the server log
has no ERROR and no trace of the payload."""

import json

from odoo.tests.common import HOST
from odoo.tools import config

from tests.hostile import (
    SECRET,
    SHOP,
    HostileCase,
    raw_request,
    shopify_signature,
    wms_signature,
)


class TestRoutesAndMethods(HostileCase):
    def test_malformed_tokens_404_no_event(self):
        before = self.env["dsync.event"].search_count([])
        for kind in self.backends:
            for token in ("%00", "x" * 8192, "%C3%A9t%C3%A9", "a%0Ab", "short"):
                status, answer = self.send(kind, self.doc(kind), token=token)
                self.assertEqual(status, 404, (kind, token[:20], answer))
        self.assertEqual(self.env["dsync.event"].search_count([]), before)

    def test_only_post_delivers(self):
        for kind in self.backends:
            before = self.events(kind)
            for method in ("OPTIONS", "GET", "PUT", "DELETE", "PATCH"):
                status, _answer = self.send(kind, self.doc(kind), method=method)
                self.assertEqual(status, 405, (kind, method))
            self.assertEqual(self.events(kind), before, "nothing stored or processed")

    def test_signed_body_in_any_content_type_is_read_raw(self):
        types = (
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=xyz",
            "text/plain",
            "application/json; charset=utf-8",
            None,
        )
        for kind in self.backends:
            for content_type in types:
                doc = self.doc(kind)
                body = json.dumps(doc).encode()
                status, answer = self.send(kind, body, content_type=content_type)
                self.assertEqual(status, 202, (kind, content_type, answer))
                event = self.env["dsync.event"].browse(json.loads(answer)["event"])
                self.assertEqual(event.payload, body.decode(), "stored as it came")

    def test_health_is_get_only_and_says_nothing_more(self):
        status, answer = raw_request(HOST, config["http_port"], "GET", "/dsync/health")
        self.assertEqual(status, 200)
        self.assertEqual(set(json.loads(answer)), {"status", "queue_depth"})
        status, _answer = raw_request(
            HOST, config["http_port"], "POST", "/dsync/health", body=b"{}"
        )
        self.assertEqual(status, 405)


class TestSignatures(HostileCase):
    def test_hostile_signature_headers_401_and_kept(self):
        bad_values = ("é" * 44, "\xff\xfe", "x" * 8192, "", "sha256=", " ")
        names = {
            "shopify": "X-Shopify-Hmac-Sha256",
            "wms": "X-Dsync-Signature",
            "carrier": "X-Hmac-Signature",
        }
        for kind, name in names.items():
            for value in bad_values:
                before = self.events(kind)
                body = json.dumps(self.doc(kind)).encode()
                headers = self.shopify_headers() if kind == "shopify" else []
                if kind == "wms":
                    headers.append(
                        ("X-Dsync-Timestamp", wms_signature(SECRET, b"")[1][1])
                    )
                status, _answer = self.send(
                    kind, body, headers + [(name, value)], sign=False
                )
                self.assertEqual(status, 401, (kind, value[:10]))
                self.assert_rejected(kind, 401, "bad signature", before)

    def test_wms_timestamps_out_of_shape_401(self):
        body = json.dumps(self.doc("wms")).encode()
        for stamp in ("9" * 400, "-1", "1e9", "１２３", "12 34", "0x10", ""):
            before = self.events("wms")
            status, _answer = self.send(
                "wms", body, wms_signature(SECRET, body, stamp=stamp), sign=False
            )
            self.assertEqual(status, 401, stamp)
            self.assert_rejected("wms", 401, "bad signature", before)

    def test_another_backends_secret_401(self):
        body = json.dumps(self.doc("shopify")).encode()
        headers = self.shopify_headers() + shopify_signature("other-secret", body)
        before = self.events("shopify")
        status, _answer = self.send("shopify", body, headers, sign=False)
        self.assertEqual(status, 401)
        self.assert_rejected("shopify", 401, "bad signature", before)

    def test_unsigned_bomb_is_kept_and_readable(self):
        """An unsigned 10,000-level body is stored as rejected, and every
        way of reading the event works."""
        bomb = b"[" * 10000 + b"]" * 10000
        before = self.events("shopify")
        status, _answer = self.send("shopify", bomb, sign=False)
        self.assertEqual(status, 401)
        event = self.assert_rejected("shopify", 401, "bad signature", before)
        self.assertEqual(event.payload, bomb.decode())
        self.assertTrue(event.payload_pretty)
        self.assertTrue(event.read(["payload_pretty", "headers_pretty", "payload"]))
        # the form view's data as the web client asks for it
        self.authenticate("admin", "admin")
        result = self.make_jsonrpc_request(
            "/web/dataset/call_kw/dsync.event/web_read",
            {
                "model": "dsync.event",
                "method": "web_read",
                "args": [[event.id]],
                "kwargs": {"specification": {"payload_pretty": {}, "payload": {}}},
            },
        )
        self.assertEqual(result[0]["id"], event.id)
        # and retention masks it without failing
        self.env["dsync.event"]._dsync_mask_before(
            self.backends["shopify"], event.create_date.replace(year=2100)
        )
        self.assertEqual(event.payload, "***")


class TestSignedButInvalid(HostileCase):
    """Authentic deliveries that cannot be stored as they are: 400, kept
    as rejected with the reason, never processed, never a 503."""

    def check(self, kind, body, reason, headers=None):
        before = self.events(kind)
        status, answer = self.send(kind, body, headers)
        self.assertEqual(status, 400, (kind, reason, answer))
        self.assertEqual(json.loads(answer)["error"], "invalid delivery")
        return self.assert_rejected(kind, 400, reason, before)

    def test_deep_json(self):
        for kind in self.backends:
            doc = self.doc(kind)
            nested = {}
            node = nested
            for _level in range(70):
                node["x"] = {}
                node = node["x"]
            doc["extra"] = nested
            self.check(kind, doc, "nested")
            very_deep = json.dumps(self.doc(kind))[:-1] + ', "x": ' + "[" * 1000
            very_deep += "]" * 1000 + "}"
            self.check(kind, very_deep.encode(), "nested")

    def test_timestamps_out_of_range(self):
        fields = {
            "shopify": "updated_at",
            "wms": "occurred_at",
            "carrier": "created_at",
        }
        for kind, field in fields.items():
            for value in (
                "9999-12-31T23:59:59-01:00",
                "0001-01-01T00:00:00+01:00",
                "1900-01-01T00:00:00Z",
                "not a date",
                "2026-13-45T99:00:00Z",
                12345,
                "2" * 5000,
            ):
                self.check(kind, self.doc(kind, **{field: value}), field)

    def test_ids_and_topics_out_of_shape(self):
        for value in ("", "a\x00b", "x" * 8192, "tab\there"):
            self.check(
                "shopify",
                self.doc("shopify"),
                "X-Shopify-Webhook-Id",
                self.shopify_headers(webhook_id=value),
            )
        for value in ("a\x00b", "x" * 8192, {"a": 1}, ["x"], True, 1.5, ""):
            self.check("wms", self.doc("wms", id=value), "event id")
            self.check("carrier", self.doc("carrier", id=value), "event id")
        self.check(
            "wms", self.doc("wms", correlation_id={"order": "1001"}), "correlation id"
        )
        self.check("wms", self.doc("wms", correlation_id="c" * 300), "correlation id")
        self.check("wms", self.doc("wms", type="x" * 8192), "event type")
        for value in ("a\x00b", "e" * 300):
            headers = self.shopify_headers() + [("X-Shopify-Event-Id", value)]
            self.check("shopify", self.doc("shopify"), "correlation id", headers)
            doc = self.doc("wms")
            self.check("wms", doc, "correlation id", [("X-Correlation-Id", value)])
        refund = {"id": 929361463, "order_id": 450789469}
        for value in ("9999-12-31T23:59:59-01:00", "yesterday", "\x00"):
            headers = self.shopify_headers(topic="refunds/create") + [
                ("X-Shopify-Triggered-At", value)
            ]
            self.check("shopify", refund, "X-Shopify-Triggered-At", headers)

    def test_topic_header_with_nul_or_8kb(self):
        for topic in ("orders/create\x00", "x" * 8192):
            rejected = self.check(
                "shopify",
                self.doc("shopify"),
                "X-Shopify-Topic",
                self.shopify_headers(topic=topic),
            )
            self.assertLessEqual(len(rejected.topic), 100)
            self.assertLessEqual(len(rejected.headers["X-Shopify-Topic"]), 512)
        # and unsigned: 401, still kept, the label bounded
        before = self.events("shopify")
        status, _answer = self.send(
            "shopify",
            b"x" * 100_000,
            self.shopify_headers(topic="y" * 8192),
            sign=False,
        )
        self.assertEqual(status, 401)
        event = self.assert_rejected("shopify", 401, "bad signature", before)
        self.assertLessEqual(len(event.topic), 100)


class TestTopicsAreDeclared(HostileCase):
    def test_undeclared_topics_rejected_not_run(self):
        shopify = self.backends["shopify"]
        modes = shopify.flow_ids.mapped("mode")
        for topic in (
            "batch",
            "orders.create",
            "orders/paid",
            "ORDERS/CREATE",
            "orders/create ",
            "_process_batch",
            "app_uninstalled",
        ):
            body = self.doc("shopify")
            if topic.strip() == "orders/create":
                continue  # stripped, it is the real one
            status, _answer = self.send(
                "shopify", body, self.shopify_headers(topic=topic)
            )
            self.assertEqual(status, 400, topic)
        self.assertEqual(shopify.flow_ids.mapped("mode"), modes)
        for kind, field in (("wms", "type"), ("carrier", "description")):
            for topic in ("batch", "picking.shipped", "tracker.updated ", "x.y"):
                if topic.strip() == self.doc(kind)[field]:
                    continue
                before = self.events(kind)
                status, _answer = self.send(kind, self.doc(kind, **{field: topic}))
                self.assertEqual(status, 400, (kind, topic))
                self.assert_rejected(kind, 400, "not one this backend accepts", before)

    def test_captured_order_replayed_as_app_uninstalled(self):
        """A captured orders/create body, replayed with a new webhook id
        under app/uninstalled, does not switch the exports off."""
        shopify = self.backends["shopify"]
        modes = shopify.flow_ids.mapped("mode")
        before = self.events("shopify")
        status, _answer = self.send(
            "shopify",
            self.doc("shopify"),
            self.shopify_headers(topic="app/uninstalled"),
        )
        self.assertEqual(status, 400)
        self.assert_rejected("shopify", 400, "not a shop", before)
        self.assertEqual(shopify.flow_ids.mapped("mode"), modes)
        self.assertFalse(shopify.shopify_uninstalled_at)

    def test_bodies_must_have_their_topics_shape(self):
        shop_body = {"id": 548380009, "name": "Demo", "myshopify_domain": SHOP}
        cases = (
            ("orders/create", shop_body, "not an order"),
            ("orders/cancelled", {"id": 1}, "not an order"),
            ("refunds/create", self.doc("shopify"), "not a refund"),
            (
                "order_transactions/create",
                {"id": 929361463, "order_id": 450789469},
                "not a transaction",
            ),
            ("customers/redact", shop_body, "not a privacy request"),
            (
                "shop/redact",
                {"shop_id": 1, "shop_domain": "evil.myshopify.com"},
                "another shop",
            ),
            (
                "app/uninstalled",
                dict(shop_body, myshopify_domain="evil.myshopify.com"),
                "another shop",
            ),
            ("orders/create", self.doc("shopify", id=True), "not an order"),
            ("orders/create", self.doc("shopify", id="1; DROP"), "not an order"),
        )
        for topic, body, reason in cases:
            before = self.events("shopify")
            status, _answer = self.send(
                "shopify", body, self.shopify_headers(topic=topic)
            )
            self.assertEqual(status, 400, (topic, reason))
            self.assert_rejected("shopify", 400, reason, before)
        # the real shapes are accepted
        for topic, body in (
            ("app/uninstalled", shop_body),
            ("shop/redact", {"shop_id": 548380009, "shop_domain": SHOP}),
            (
                "customers/redact",
                {
                    "shop_id": 548380009,
                    "shop_domain": SHOP,
                    "customer": self.customer(),
                    "orders_to_redact": [299938],
                },
            ),
            ("refunds/create", {"id": 929361463, "order_id": 450789469}),
            (
                "order_transactions/create",
                {"id": 389404469, "order_id": 450789469, "kind": "sale"},
            ),
        ):
            status, _answer = self.send(
                "shopify", body, self.shopify_headers(topic=topic)
            )
            self.assertEqual(status, 202, topic)

    def test_shop_domain_must_be_the_backends(self):
        for shop in ("evil.myshopify.com", "", "x" * 8192, SHOP + "\x00"):
            before = self.events("shopify")
            status, _answer = self.send(
                "shopify", self.doc("shopify"), self.shopify_headers(shop=shop)
            )
            self.assertEqual(status, 400, shop[:20])
            self.assert_rejected("shopify", 400, "shop", before)
        # case and a scheme do not matter
        status, _answer = self.send(
            "shopify",
            self.doc("shopify"),
            self.shopify_headers(shop="Demo-Store.MyShopify.com"),
        )
        self.assertEqual(status, 202)

    def test_backend_without_shop_domain_accepts_nothing(self):
        self.backends["shopify"].shopify_shop_domain = False
        before = self.events("shopify")
        status, _answer = self.send("shopify", self.doc("shopify"))
        self.assertEqual(status, 400)
        self.assert_rejected("shopify", 400, "no shop domain", before)


class TestBrokenTransfers(HostileCase):
    def test_body_shorter_than_announced(self):
        """The client announces more than it sends and gives up: 400 (or
        nothing, it is gone), what arrived is kept, nothing processed."""
        for kind in self.backends:
            before = self.events(kind)
            body = json.dumps(self.doc(kind)).encode()
            status, _answer = self.send(
                kind, body[:20], content_length=len(body), close_after_send=True
            )
            self.assertIn(status, (400, None), kind)
            event = self.assert_rejected(kind, 400, "body incomplete", before)
            self.assertEqual(event.payload, body[:20].decode())

    def test_oversized_header_values_are_bounded(self):
        body = json.dumps(self.doc("shopify")).encode()
        headers = self.shopify_headers() + [("X-Shopify-API-Version", "v" * 8000)]
        status, answer = self.send("shopify", body, headers)
        self.assertEqual(status, 202, answer)
        event = self.env["dsync.event"].browse(json.loads(answer)["event"])
        self.assertLessEqual(len(event.headers["X-Shopify-API-Version"]), 512)
