# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shared checks of a connector's webhook route (used by each connector).

A test class mixes ``WebhookContract`` into an ``HttpCase`` and defines
``backend_type``, ``route(token)``, ``sign(body, secret)`` returning headers,
and ``delivery(dedup)`` returning a valid JSON document and extra headers.
"""

import json
import uuid

from odoo.tools import mute_logger

from ..intake import rate_limiter
from .common import run_jobs

SECRET = "whsec-test-0123456789"


class WebhookContract:
    backend_type = None
    backend_values = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls.env["dsync.backend"].create(
            {
                "name": f"{cls.backend_type} webhook test",
                "backend_type": cls.backend_type,
                "inbound_rate_limit": 0,
                **cls.backend_values,
            }
        )
        cls.backend._dsync_set_secret("webhook_secret", SECRET)

    def setUp(self):
        super().setUp()
        rate_limiter.reset()

    # hooks ------------------------------------------------------------
    def route(self, token):
        raise NotImplementedError

    def sign(self, body, secret=SECRET):
        raise NotImplementedError

    def delivery(self, dedup):
        """(document, extra headers) of a valid delivery with this dedup key."""
        raise NotImplementedError

    def expected_dedup(self, dedup):
        """The dedup key the route derives from ``delivery(dedup)``."""
        return dedup

    # helpers ----------------------------------------------------------
    def post(self, body, headers=None, token=None, sign=True, secret=SECRET):
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
        if sign:
            all_headers.update(self.sign(body, secret))
        with mute_logger("odoo.addons.distribution_sync_core.intake.security"):
            # opener.post, not url_open: url_open turns an empty body into a GET
            return self.opener.post(
                self.base_url() + self.route(token or self.backend.token),
                data=body,
                headers=all_headers,
                timeout=12,
            )

    def events(self, **domain):
        return self.env["dsync.event"].search(
            [("backend_id", "=", self.backend.id)]
            + [(key, "=", value) for key, value in domain.items()]
        )

    def new_dedup(self):
        return uuid.uuid4().hex

    # the contract -----------------------------------------------------
    def test_contract_accepted_and_queued(self):
        dedup = self.new_dedup()
        doc, headers = self.delivery(dedup)
        response = self.post(doc, headers)
        self.assertEqual(response.status_code, 202, response.text)
        event = self.events(dedup_key=self.expected_dedup(dedup))
        self.assertEqual(len(event), 1)
        self.assertEqual(response.json()["event"], event.id)
        self.assertEqual(event.state, "received")
        self.assertEqual(json.loads(event.payload), doc)
        self.assertTrue(event.correlation_id)
        dispatch = self.env["queue.job"].search(
            [("identity_key", "=", f"dsync-dispatch-{self.backend.id}")]
        )
        self.assertEqual(len(dispatch), 1, "the request only wakes the dispatcher")
        self.assertEqual(dispatch.state, "pending")
        # nothing slow ran in the request; the dispatcher queues one job per event
        run_jobs(self.env, max_rounds=1, converge=False)
        self.assertEqual(event.state, "queued")
        self.assertEqual(event.job_id.identity_key, f"dsync-event-{event.id}")

    def test_contract_burst_wakes_one_dispatcher(self):
        for _i in range(3):
            doc, headers = self.delivery(self.new_dedup())
            self.assertEqual(self.post(doc, headers).status_code, 202)
        dispatch = self.env["queue.job"].search(
            [("identity_key", "=", f"dsync-dispatch-{self.backend.id}")]
        )
        self.assertEqual(len(dispatch), 1)
        run_jobs(self.env, max_rounds=1, converge=False)
        events = self.events()
        self.assertEqual(set(events.mapped("state")), {"queued"})
        # a burst waits together: one batch job on the flow's channel
        flow = self.backend._dsync_flow_for_topic(events[:1].topic)
        self.assertEqual(len(events.job_id), 1)
        self.assertEqual(events.job_id.channel, flow._channel_name())
        self.assertEqual(events.job_id.method_name, "_dsync_run_batch")
        self.assertEqual(sorted(events.job_id.records.ids), sorted(events.ids))
        run_jobs(self.env)
        self.assertEqual(events.mapped("job_id.state"), ["done"])
        self.assertNotIn("queued", events.mapped("state"))

    def test_contract_duplicate_is_200_and_processed_once(self):
        dedup = self.new_dedup()
        doc, headers = self.delivery(dedup)
        first = self.post(doc, headers)
        second = self.post(doc, headers)
        self.assertEqual(first.status_code, 202)
        self.assertEqual(second.status_code, 200)
        self.assertEqual(second.json()["status"], "duplicate")
        event = self.events(dedup_key=self.expected_dedup(dedup))
        self.assertEqual(len(event), 1)
        self.assertEqual(event.duplicate_count, 1)
        run_jobs(self.env, max_rounds=1, converge=False)
        jobs = self.env["queue.job"].search(
            [("identity_key", "=", f"dsync-event-{event.id}")]
        )
        self.assertEqual(len(jobs), 1, "a redelivery enqueues nothing")

    def test_contract_bad_signature_401_and_trace(self):
        doc, headers = self.delivery(self.new_dedup())
        response = self.post(doc, headers, secret="wrong-secret")
        self.assertEqual(response.status_code, 401)
        rejected = self.events(state="rejected")
        self.assertEqual(len(rejected), 1)
        self.assertEqual(rejected.reject_reason, "bad signature")
        self.assertEqual(rejected.http_status, 401)
        self.assertFalse(
            rejected.dedup_key, "a forged delivery cannot block the real one"
        )
        self.assertFalse(rejected.job_id)

    def test_contract_unsigned_401(self):
        doc, headers = self.delivery(self.new_dedup())
        self.assertEqual(self.post(doc, headers, sign=False).status_code, 401)

    def test_contract_bad_json_400_raw_body_kept(self):
        raw = b'{"id": 1, "broken": '
        _doc, headers = self.delivery(self.new_dedup())
        response = self.post(raw, headers)
        self.assertEqual(response.status_code, 400)
        self.assertNotIn("Traceback", response.text)
        rejected = self.events(state="rejected")
        self.assertEqual(rejected.payload, raw.decode())
        self.assertEqual(rejected.http_status, 400)
        self.assertEqual(rejected.reject_reason, "invalid delivery: body is not JSON")

    def test_contract_oversized_413(self):
        from odoo.tools import config

        saved = config.get("dsync_max_body_bytes")
        config["dsync_max_body_bytes"] = 1024
        try:
            doc, headers = self.delivery(self.new_dedup())
            doc["padding"] = "x" * 5000
            response = self.post(doc, headers)
        finally:
            config["dsync_max_body_bytes"] = saved
        self.assertEqual(response.status_code, 413)
        rejected = self.events(state="rejected")
        self.assertEqual(rejected.http_status, 413)
        self.assertEqual(rejected.payload_size, len(json.dumps(doc)))

    def test_contract_unknown_token_404(self):
        doc, headers = self.delivery(self.new_dedup())
        before = self.env["dsync.event"].search_count([])
        response = self.post(doc, headers, token="not-a-real-token")
        self.assertEqual(response.status_code, 404)
        self.assertEqual(self.env["dsync.event"].search_count([]), before)

    def test_contract_disabled_backend_503(self):
        self.backend.active = False
        dedup = self.new_dedup()
        doc, headers = self.delivery(dedup)
        response = self.post(doc, headers)
        self.assertEqual(response.status_code, 503)
        self.assertTrue(response.headers.get("Retry-After"))
        rejected = self.events(state="rejected")
        self.assertEqual(rejected.reject_reason, "backend disabled")
        # once enabled again, the platform's redelivery is accepted, not a duplicate
        self.backend.active = True
        self.assertEqual(self.post(doc, headers).status_code, 202)

    def test_contract_backend_edits_apply_at_once(self):
        # each server process keeps what the route reads of a backend; every
        # edit of it is seen by the next delivery
        doc, headers = self.delivery(self.new_dedup())
        self.assertEqual(self.post(doc, headers).status_code, 202)
        old_token = self.backend.token
        self.backend.action_regenerate_token()
        doc, headers = self.delivery(self.new_dedup())
        self.assertEqual(self.post(doc, headers, token=old_token).status_code, 404)
        self.assertEqual(self.post(doc, headers).status_code, 202)
        self.backend.inbound_rate_limit = 1
        statuses = []
        for _i in range(2):
            doc, headers = self.delivery(self.new_dedup())
            statuses.append(self.post(doc, headers).status_code)
        self.assertEqual(statuses, [202, 429])
        self.backend.write({"inbound_rate_limit": 0, "active": False})
        doc, headers = self.delivery(self.new_dedup())
        self.assertEqual(self.post(doc, headers).status_code, 503)

    def test_contract_rate_limit_429(self):
        self.backend.inbound_rate_limit = 3
        statuses = []
        for _i in range(5):
            doc, headers = self.delivery(self.new_dedup())
            statuses.append(self.post(doc, headers).status_code)
        self.assertEqual(statuses[:3], [202, 202, 202])
        self.assertEqual(statuses[3:], [429, 429])
        doc, headers = self.delivery(self.new_dedup())
        response = self.post(doc, headers)
        self.assertGreaterEqual(int(response.headers["Retry-After"]), 1)

    def test_contract_binary_body_kept_whole(self):
        import base64

        raw = b"\x00\xff\xfe{"
        _doc, headers = self.delivery(self.new_dedup())
        self.assertEqual(self.post(raw, headers).status_code, 400)
        rejected = self.events(state="rejected")
        self.assertTrue(rejected.payload_base64)
        self.assertEqual(base64.b64decode(rejected.payload), raw)

    def test_contract_garbage_never_500(self):
        for body in (b"", b"\x00\xff\xfe", b"[]", b"null", b'"text"', b"{}"):
            _doc, headers = self.delivery(self.new_dedup())
            response = self.post(body, headers)
            self.assertIn(response.status_code, (400, 401), body)
            self.assertNotIn("Traceback", response.text)
