# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A Shopify store's configuration as an admin sees it: the shop domain and
the API address, the connection test in plain words, the warnings of what
the store lacks, the statuses that confirm an order."""

import socket

from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase

from tests.simulators.shopify import DEFAULT_TOKEN

from .test_outbound import ShopifyOutboundCase


def closed_port():
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TestShopDomain(TransactionCase):
    def backend(self, **vals):
        return self.env["dsync.backend"].create(
            {"name": "Shop", "backend_type": "shopify", **vals}
        )

    def test_domain_is_normalized_and_gives_the_api_address(self):
        backend = self.backend(
            shopify_shop_domain=" https://My-Store.myshopify.com/admin/ "
        )
        self.assertEqual(backend.shopify_shop_domain, "my-store.myshopify.com")
        self.assertEqual(
            backend.shopify_admin_api_url,
            "https://my-store.myshopify.com/admin/api/2025-07/graphql.json",
        )
        # an override (debug mode) replaces it, and says so in the test report
        backend.api_url = "http://127.0.0.1:9/"
        self.assertEqual(
            backend.shopify_admin_api_url,
            "http://127.0.0.1:9/admin/api/2025-07/graphql.json",
        )
        with self.assertRaises(ValidationError):
            backend.shopify_shop_domain = "not a domain"

    def test_financial_statuses_as_a_multiple_choice(self):
        backend = self.backend()
        self.assertEqual(
            set(backend.shopify_confirm_status_ids.mapped("code")),
            {"paid", "authorized"},
        )
        pending = self.env.ref("connector_shopify.financial_status_pending")
        paid = self.env.ref("connector_shopify.financial_status_paid")
        backend.shopify_confirm_status_ids = pending | paid
        self.assertEqual(backend.shopify_confirm_statuses, "pending,paid")
        self.assertEqual(backend._shopify_confirm_status_set(), {"pending", "paid"})

    def test_warnings_of_what_the_store_lacks(self):
        backend = self.backend()
        warning = backend.config_warning
        self.assertIn("No shop domain", warning)
        self.assertIn("No webhook secret", warning)
        self.assertIn("No Admin API access token", warning)
        backend.write({"shopify_shop_domain": "shop.myshopify.com"})
        backend._dsync_set_secret("webhook_secret", "s")
        backend._dsync_set_secret("api_secret", "t")
        backend.invalidate_recordset()
        self.assertIn("No Shopify location is mapped", backend.config_warning)
        self.assertNotIn("No webhook secret", backend.config_warning)

    def test_no_token_says_so_before_calling_shopify(self):
        backend = self.backend(shopify_shop_domain="shop.myshopify.com")
        result = backend.action_shopify_test_connection()
        params = result["params"]
        self.assertEqual(params["type"], "danger")
        self.assertIn("No Admin API access token", params["message"])
        self.assertNotIn("could not be reached", params["message"])
        self.assertIn("✓ Store address: https://shop.myshopify.com.", params["message"])
        self.assertEqual(params["next"]["tag"], "soft_reload")
        self.assertEqual(params["className"], "o_dsync_notification")
        self.assertFalse(backend.shopify_connection_ok)
        self.assertEqual(backend.shopify_connection_report, params["message"])

    def test_unreachable_store_in_plain_words(self):
        backend = self.backend(
            shopify_shop_domain="shop.myshopify.com",
            api_url=f"http://127.0.0.1:{closed_port()}",
            request_timeout=2,
        )
        backend._dsync_set_secret("api_secret", "t")
        message = backend.action_shopify_test_connection()["params"]["message"]
        self.assertIn("could not be reached", message)
        self.assertIn("the connection was refused", message)
        self.assertIn("(API URL override)", message)
        for technical in ("HTTPConnectionPool", "object at 0x", "Traceback", "urllib3"):
            self.assertNotIn(technical, message)
        self.assertIn("\n", message, "one check a line")


class TestConnectionReport(ShopifyOutboundCase):
    def test_everything_checked_and_the_locations_listed_by_name(self):
        self.backend._dsync_set_secret("webhook_secret", "s")
        self.sim.add_location("Pop-up store")
        result = self.backend.action_shopify_test_connection()
        params = result["params"]
        self.assertEqual(params["type"], "success")
        lines = params["message"].split("\n")
        self.assertTrue(lines[0].startswith("✓ Store address"))
        self.assertIn("✓ Webhook secret set", params["message"])
        self.assertIn("✓ Every access scope", params["message"])
        self.assertIn("1 of 2 mapped", params["message"])
        self.assertIn("Pop-up store: not mapped yet", params["message"])
        self.assertTrue(self.backend.shopify_connection_ok)
        self.assertFalse(self.backend.shopify_missing_scopes)
        names = self.backend.shopify_location_map_ids.mapped("display_name")
        self.assertIn("Pop-up store", names, "the location's name, not its gid")

    def test_missing_scopes_are_kept_as_a_warning(self):
        self.sim.scopes.remove("read_locations")
        self.addCleanup(self.sim.scopes.append, "read_locations")
        self.backend.action_shopify_test_connection()
        self.assertEqual(self.backend.shopify_missing_scopes, "read_locations")
        self.assertIn("read_locations", self.backend.config_warning)

    def test_refused_token(self):
        self.backend._dsync_set_secret("api_secret", "shpat_wrong")
        self.addCleanup(self.backend._dsync_set_secret, "api_secret", DEFAULT_TOKEN)
        message = self.backend.action_shopify_test_connection()["params"]["message"]
        self.assertIn("refused the access token (HTTP 401)", message)
        self.assertIn("API credentials", message)
