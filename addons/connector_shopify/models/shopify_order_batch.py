# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""New Shopify orders of a batch job, created and confirmed together.

Under load the core hands a batch of events to :meth:`_shopify_process_batch`.
Creating and confirming orders one ``create`` and one ``action_confirm`` at a
time costs Odoo twice what it costs for a batch (prefetching, recomputations
and flushes are shared), so the hook takes the plain case — an order seen for
the first time — and leaves every other event (updates of imported orders,
cancellations, an order delivered twice in the batch, a customer or a company
with two new orders in it, anything a mapping is missing for) to the core,
which processes them one by one through :meth:`_shopify_sync_order`, after
the batch. Both paths build the orders with the same
:meth:`_shopify_create_orders`.
"""

from collections import Counter

from odoo import models

from odoo.addons.distribution_sync_core.errors import BusinessError

from ..batch_scope import batch_scope
from .shopify_order import customer_email, customer_phone

BATCH_TOPICS = ("orders/create", "orders/updated")


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    def _shopify_process_batch(self, events):
        """{event: sale.order} of the new orders applied together."""
        with batch_scope(self.env):
            batch = self._shopify_batchable(events)
            if len(batch) < 2:
                return {}
            applied = self._shopify_apply_batch(batch)
            self.env.flush_all()  # what it computes, computed in the scope
        return applied

    def _shopify_apply_batch(self, batch):
        orders = [order for _event, order, _needs in batch]
        sales = self._shopify_create_orders(
            orders, [needs for _event, _order, needs in batch]
        )
        self._shopify_confirm_due(sales, orders)
        self._shopify_bind_many(
            "sale.order",
            [
                (
                    order.id,
                    sale,
                    {
                        "external_updated_at": order.updated_at,
                        "last_event_id": event.id,
                    },
                )
                for (event, order, _needs), sale in zip(batch, sales, strict=True)
            ],
        )
        return {event: sale for (event, _o, _n), sale in zip(batch, sales, strict=True)}

    def _shopify_batchable(self, events):
        """[(event, order, resolved mappings)] that can be created together."""
        candidates = []
        for event in events.sorted("id"):
            if event.topic not in BATCH_TOPICS:
                continue
            try:
                order = self._shopify_parse_order(event)
            except BusinessError:
                continue
            if not order.cancelled_at:
                candidates.append((event, order))
        if not candidates:
            return []
        self._shopify_find_products(
            [line for _event, order in candidates for line in order.lines]
        )
        deliveries = Counter(order.id for _event, order in candidates)
        known = set(
            self.env["dsync.binding"]
            ._find_many(self, "sale.order", list(deliveries))
            .mapped("external_id")
        )
        batch, customers = [], set()
        for event, order in candidates:
            keys = _customer_keys(order)
            if deliveries[order.id] > 1 or order.id in known or keys & customers:
                continue
            customers |= keys
            try:
                needs = self._shopify_resolve(order)
            except BusinessError:
                continue  # processed alone, it opens its exception
            batch.append((event, order, needs))
        return batch


def _customer_keys(order):
    """What identifies the order's customer (id, email, phone) and, for a
    B2B order, its company (Shopify id, name)."""
    keys = {
        ("id", str(order.customer.get("id") or "")),
        ("email", customer_email(order)),
        ("phone", customer_phone(order)),
        ("company_id", order.company_id),
        ("company", order.company_name.lower()),
    }
    return {key for key in keys if key[1]}
