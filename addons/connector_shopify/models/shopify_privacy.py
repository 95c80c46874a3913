# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shopify's app and privacy webhooks.

* ``customers/redact``: personal data is masked in every stored payload of
  this store that mentions the customer (id, email or phone) or one of the
  orders to redact. Contacts, sale orders and invoices stay: they are the
  merchant's accounting records, which the law makes it keep.
* ``customers/data_request``: the store's chatter gets a summary (events and
  orders held about the customer) for customer service to send to the
  merchant; the event's result is that note.
* ``shop/redact`` (48 h after uninstall): every stored payload of the store is
  masked.
* ``app/uninstalled``: the store is marked uninstalled and its outbound flows
  are set to manual (nothing is sent with a revoked token). The backend stays
  active, because Shopify still sends ``shop/redact`` (and the privacy
  requests) after an uninstall; an admin archives it once those are done.

The chatter notes name the Shopify customer id only, never personal data.
"""

import logging
from datetime import timedelta

from markupsafe import Markup

from odoo import _, fields, models

from odoo.addons.distribution_sync_core.dispatcher import backend_channel
from odoo.addons.distribution_sync_core.masking import mask_payload

_logger = logging.getLogger(__name__)
# Payloads one shop/redact job masks before handing the rest to the next.
REDACT_BATCH = 5000


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    def _shopify_process_app_uninstalled(self, event):
        self.shopify_uninstalled_at = fields.Datetime.now()
        outbound = self.flow_ids.filtered(lambda f: f.direction == "out")
        outbound.write({"mode": "manual"})
        self.message_post(
            body=_(
                "The Shopify app was uninstalled from this store: outbound flows "
                "(%(flows)s) set to manual. Webhooks are still accepted, so the "
                "shop's redact request can arrive; archive the store afterwards.",
                flows=", ".join(outbound.mapped("name")) or "-",
            )
        )
        return self

    def _shopify_process_customers_redact(self, event):
        data = event._dsync_data()
        customer = data.get("customer") or {}
        orders = data.get("orders_to_redact") or []
        events = self._shopify_events_about(customer, orders) | event
        masked = self._shopify_mask_events(events)
        return self._shopify_privacy_note(
            _(
                "Shopify customer %(customer)s redacted: personal data masked in "
                "%(count)s stored payloads. Contacts, orders and invoices are "
                "kept as accounting records.",
                customer=customer.get("id") or "?",
                count=masked,
            )
        )

    def _shopify_process_customers_data_request(self, event):
        data = event._dsync_data()
        customer = data.get("customer") or {}
        requested = [str(i) for i in data.get("orders_requested") or []]
        events = self._shopify_events_about(customer, requested) - event
        orders = self._shopify_customer_orders(customer, requested)
        return self._shopify_privacy_note(
            _(
                "Shopify data request %(request)s for customer %(customer)s: "
                "%(events)s stored events, orders: %(orders)s. Send this data "
                "to the merchant (Shopify asks for it within 30 days).",
                request=(data.get("data_request") or {}).get("id") or "?",
                customer=customer.get("id") or "?",
                events=len(events),
                orders=", ".join(f"{o._shopify_name()} ({o.name})" for o in orders)
                or "-",
            )
        )

    def _shopify_process_shop_redact(self, event):
        limit = fields.Datetime.now() + timedelta(seconds=1)
        masked, more = self._shopify_redact_batch(limit)
        return self._shopify_privacy_note(
            _(
                "Shop redact: personal data masked in %(n)s stored payloads%(more)s.",
                n=masked,
                more=_(" so far; the rest goes on in batches") if more else "",
            )
        )

    def _shopify_redact_batch(self, limit):
        """Mask up to REDACT_BATCH of the store's payloads stored before
        ``limit``; when some may remain, the next batch is queued as a job of
        its own, so a large store's redact is many short transactions.
        Returns (masked, more queued)."""
        masked = 0
        for model in ("dsync.event", "dsync.outbox"):
            budget = REDACT_BATCH - masked
            if budget <= 0:
                break
            masked += self.env[model].sudo()._dsync_mask_before(self, limit, budget)
        more = masked >= REDACT_BATCH
        if more:
            self.sudo().with_delay(
                channel=backend_channel(self.backend_type, self.id),
                identity_key=f"shopify-redact-{self.id}",
                description=f"{self.name}: shop redact, next batch",
            )._shopify_redact_batch(limit)
        else:
            _logger.info("backend %s: shop redact complete", self.id)
        return masked, more

    # ------------------------------------------------------------------
    def _shopify_events_about(self, customer, order_ids):
        """Events of this store whose payload names the customer or orders."""
        needles = [
            str(value)
            for value in (
                customer.get("id"),
                customer.get("email"),
                customer.get("phone"),
                *order_ids,
            )
            if value
        ]
        if not needles:
            return self.env["dsync.event"]
        domain = [("backend_id", "=", self.id), ("payload_purged", "=", False)]
        domain += ["|"] * (len(needles) - 1)
        domain += [("payload", "ilike", needle) for needle in needles]
        return self.env["dsync.event"].sudo().search(domain)

    def _shopify_mask_events(self, events):
        for event in events:
            event.write(
                {"payload": mask_payload(event.payload), "payload_masked": True}
            )
        return len(events)

    def _shopify_customer_orders(self, customer, order_ids):
        Binding = self.env["dsync.binding"]
        orders = self.env["sale.order"]
        for order_id in order_ids:
            orders |= Binding._find_record(self, "sale.order", order_id) or orders
        partner = (
            Binding._find_record(self, "res.partner", customer["id"])
            if customer.get("id")
            else None
        )
        if partner:
            orders |= self.env["sale.order"].search(
                [
                    ("partner_id", "child_of", partner.id),
                    ("shopify_backend_id", "=", self.id),
                ]
            )
        return orders.sorted("id")

    def _shopify_privacy_note(self, text):
        return self.message_post(body=Markup("<p>%s</p>") % text)
