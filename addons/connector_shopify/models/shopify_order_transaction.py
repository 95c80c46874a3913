# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shopify payment transactions in: ``order_transactions/create``."""

from odoo import _, models

from odoo.addons.distribution_sync_core.errors import BusinessError, DuplicateEvent

from ..order_payload import parse_transaction
from .shopify_transaction import TRANSACTION_KINDS, TRANSACTION_STATUSES


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    def _shopify_process_order_transactions_create(self, event):
        """Record a payment transaction of an order (imported or not yet:
        the order lists the transactions of its Shopify id)."""
        try:
            transaction = parse_transaction(event._dsync_data())
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise BusinessError(
                "invalid_payload",
                _(
                    "Event %(id)s is not a Shopify transaction: %(err)s",
                    id=event.id,
                    err=err,
                ),
            ) from err
        Transaction = self.env["shopify.transaction"]
        if Transaction.search_count(
            [("backend_id", "=", self.id), ("transaction_id", "=", transaction.id)]
        ):
            raise DuplicateEvent(
                _("Transaction %s is already recorded.", transaction.id)
            )
        currency = self.env["res.currency"].with_context(active_test=False)
        currency = currency.search([("name", "=", transaction.currency)], limit=1)
        return Transaction.create(
            {
                "backend_id": self.id,
                "shopify_order_id": transaction.order_id,
                "transaction_id": transaction.id,
                "kind": transaction.kind
                if transaction.kind in dict(TRANSACTION_KINDS)
                else False,
                "gateway": transaction.gateway,
                "status": transaction.status
                if transaction.status in dict(TRANSACTION_STATUSES)
                else False,
                "amount": float(transaction.amount),
                "currency_id": currency.id,
                "processed_at": transaction.processed_at,
                "gift_card_last_characters": transaction.gift_card_last_characters
                or False,
                "event_id": event.id,
            }
        )
