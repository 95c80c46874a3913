# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import base64
import hashlib
import hmac
import random
import unittest

from .. import intake
from ..errors import backoff_seconds


class TestSignatures(unittest.TestCase):
    body = b'{"id": 1, "note": "caf\xc3\xa9"}'

    def test_base64_hmac(self):
        good = base64.b64encode(
            hmac.new(b"k", self.body, hashlib.sha256).digest()
        ).decode()
        self.assertTrue(intake.verify_base64_hmac("k", self.body, good))
        self.assertFalse(intake.verify_base64_hmac("other", self.body, good))
        self.assertFalse(intake.verify_base64_hmac("k", self.body + b" ", good))
        self.assertFalse(intake.verify_base64_hmac("k", self.body, None))
        self.assertFalse(
            intake.verify_base64_hmac(False, self.body, good), "no secret, no trust"
        )

    def test_hex_hmac_with_prefix(self):
        message = b"1700000000." + self.body
        good = "sha256=" + hmac.new(b"k", message, hashlib.sha256).hexdigest()
        self.assertTrue(intake.verify_hex_hmac("k", message, good, prefix="sha256="))
        self.assertFalse(
            intake.verify_hex_hmac("k", message, good[7:], prefix="sha256=")
        )
        self.assertFalse(
            intake.verify_hex_hmac("k", message, "sha256=00", prefix="sha256=")
        )


class TestRateLimiter(unittest.TestCase):
    def test_bucket(self):
        limiter = intake.RateLimiter()
        key = ("db", 1)
        allowed = [limiter.allow(key, 60, now=100.0) for _i in range(61)]
        self.assertEqual(allowed[:60], [0] * 60)
        self.assertGreaterEqual(allowed[60], 1, "61st request in the same second waits")
        self.assertEqual(
            limiter.allow(key, 60, now=101.5), 0, "tokens refill over time"
        )
        self.assertEqual(limiter.allow(("db", 2), 60, now=100.0), 0, "per backend")
        self.assertEqual(limiter.allow(key, 0, now=100.0), 0, "0 = no limit")


class TestBackoff(unittest.TestCase):
    def test_growth_jitter_and_cap(self):
        rng = random.Random(7)
        for attempt in range(1, 12):
            step = min(3600, 30 * 2 ** (attempt - 1))
            delay = backoff_seconds(attempt, base=30, cap=3600, rng=rng)
            self.assertGreaterEqual(delay, step // 2)
            self.assertLessEqual(delay, step)
        spread = {backoff_seconds(3, rng=rng) for _i in range(50)}
        self.assertGreater(len(spread), 5, "jitter spreads retries")


class TestBounds(unittest.TestCase):
    def test_nesting(self):
        self.assertTrue(intake.nested_within({"a": [1, {"b": []}]}, 4))
        self.assertFalse(intake.nested_within({"a": [1, {"b": []}]}, 3))
        deep = []
        for _level in range(100_000):
            deep = [deep]
        self.assertFalse(intake.nested_within(deep, 64), "no recursion, no crash")
        self.assertTrue(
            intake.nested_within({"x": "[[[[" * 100}, 1), "strings are text"
        )

    def test_text_values(self):
        self.assertEqual(intake.text_value(" abc ", "id"), "abc")
        self.assertEqual(intake.text_value(1234, "id"), "1234")
        self.assertIsNone(intake.text_value(None, "id", required=False))
        for bad in (True, 1.5, {"a": 1}, ["x"], "a\x00b", "a\tb", "x" * 256, " "):
            with self.assertRaises(intake.InvalidDelivery, msg=repr(bad)):
                intake.text_value(bad, "id")

    def test_times(self):
        self.assertEqual(
            str(intake.parse_utc("2026-11-20T12:00:00-05:00")), "2026-11-20 17:00:00"
        )
        self.assertEqual(
            str(intake.parse_utc("2023-03-29T18:00:27.877041743Z")),
            "2023-03-29 18:00:27.877041",
            "Shopify's nanoseconds",
        )
        for bad in (
            "9999-12-31T23:59:59-01:00",
            "0001-01-01T00:00:00+01:00",
            "1969-12-31T23:59:59Z",
            "2200-01-01T00:00:00Z",
            "soon",
            12,
            "1" * 65,
        ):
            with self.assertRaises(intake.InvalidDelivery, msg=repr(bad)):
                intake.parse_utc(bad)

    def test_labels_are_bounded_and_printable(self):
        self.assertEqual(intake.label("orders/create\x00\n"), "orders/create")
        self.assertEqual(len(intake.label("x" * 10_000)), intake.MAX_LABEL_LENGTH)
        self.assertEqual(intake.label(None), "")

    def test_hostile_signature_headers_compare_false(self):
        for signature in ("é" * 44, "\udcff", "x" * 10_000, ""):
            self.assertFalse(intake.verify_base64_hmac("k", b"{}", signature))
            self.assertFalse(intake.verify_hex_hmac("k", b"{}", signature, "sha256="))
