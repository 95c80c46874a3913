# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shopify refunds in: ``refunds/create`` → a draft credit note and a
*refund to review* for finance (or only the review, per the store's refund
policy).

Odoo owns invoices (core ownership rule): a Shopify refund never changes a
posted invoice. With the *draft credit note* policy it becomes a draft
``out_refund`` of the order's latest posted invoice — refunded line items at
the order line's price, discount and taxes, and the refunded shipping — and
the event, applied, opens a follow-up exception for finance to check and
post it. With the *exception* policy the refund is recorded (the event is
done) and its follow-up asks finance to record the credit note by hand. An
order that has no posted invoice yet has nothing to credit: the refund is
not applied and opens a ``conflict`` exception for finance (retry it once
the order is invoiced). A refund arriving before its order is imported is
retried later (transient), like a late order.
"""

from decimal import Decimal

from odoo import Command, _, models

from odoo.addons.distribution_sync_core.errors import (
    BusinessError,
    DuplicateEvent,
    TransientError,
)

from ..order_payload import parse_refund
from .sale_order_line import exact_discount

TOLERANCE = Decimal("0.01")


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    def _shopify_process_refunds_create(self, event):
        refund = self._shopify_parse_refund(event)
        Binding = self.env["dsync.binding"]
        key = f"refund:{refund.id}"
        if Binding._find_record(self, "account.move", key):
            raise DuplicateEvent(_("Refund %s already has its credit note.", refund.id))
        if Binding._find_record(self, "sale.order", key):
            raise DuplicateEvent(
                _("Refund %s was already given to finance.", refund.id)
            )
        sale = Binding._find_record(self, "sale.order", refund.order_id)
        if not sale:
            raise TransientError(
                f"refund {refund.id}: order {refund.order_id} is not imported yet",
                retry_after=60,
            )
        if self.shopify_refund_policy == "exception":
            event._dsync_follow_up(
                self._shopify_refund_review(
                    sale,
                    refund,
                    _(
                        "The store's policy leaves refunds to finance: record the "
                        "credit note by hand."
                    ),
                    sale,
                )
            )
            self._shopify_bind(sale, key, event=event)
            return sale
        invoice = sale.invoice_ids.filtered(
            lambda m: m.move_type == "out_invoice" and m.state == "posted"
        ).sorted("id")[-1:]
        if not invoice:
            raise self._shopify_refund_error(
                sale,
                refund,
                _("The order has no posted invoice to credit yet."),
                f"refund_not_invoiced:{sale._shopify_name()}",
            )
        credit_note = self._shopify_credit_note(sale, invoice, refund)
        self._shopify_bind(credit_note, key, event=event)
        event._dsync_follow_up(
            self._shopify_refund_review(
                sale,
                refund,
                _(
                    "Draft credit note %s is ready: check it and post it.",
                    credit_note.display_name,
                ),
                credit_note,
            )
        )
        return credit_note

    def _shopify_parse_refund(self, event):
        try:
            return parse_refund(event._dsync_data(), self.shopify_currency_policy)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise BusinessError(
                "invalid_payload",
                _(
                    "Event %(id)s is not a Shopify refund: %(err)s",
                    id=event.id,
                    err=err,
                ),
            ) from err

    def _shopify_refund_error(self, sale, refund, reason, kind_key):
        return BusinessError(
            "conflict",
            _(
                "Shopify refunded %(amount)s on %(name)s (%(order)s, refund "
                "%(refund)s). %(reason)s Record the credit note by hand, or "
                "retry once the order is invoiced.",
                amount=refund.amount,
                name=sale._shopify_name(),
                order=sale.name,
                refund=refund.id,
                reason=reason,
            ),
            team="finance",
            kind_key=kind_key,
            record=sale,
        )

    def _shopify_refund_review(self, sale, refund, what_to_do, record):
        """The *refund to review* follow-up of an applied refund, for
        finance, about ``record`` (the draft credit note, or the order)."""
        return BusinessError(
            "to_review",
            _(
                "Shopify refunded %(amount)s on %(name)s (%(order)s, refund "
                "%(refund)s). %(todo)s",
                amount=refund.amount,
                name=sale.client_order_ref,
                order=sale.name,
                refund=refund.id,
                todo=what_to_do,
            ),
            team="finance",
            kind_key=f"refund:{refund.id}",
            record=record,
        )

    def _shopify_credit_note(self, sale, invoice, refund):
        lines = self._shopify_refund_line_vals(sale, refund)
        credit_note = self.env["account.move"].create(
            {
                "move_type": "out_refund",
                "partner_id": invoice.partner_id.id,
                "journal_id": invoice.journal_id.id,
                "currency_id": invoice.currency_id.id,
                "fiscal_position_id": invoice.fiscal_position_id.id,
                "reversed_entry_id": invoice.id,
                "invoice_origin": sale.name,
                "ref": _(
                    "Shopify refund %(refund)s of %(name)s",
                    refund=refund.id,
                    name=sale._shopify_name(),
                ),
                "narration": refund.note or False,
                "invoice_line_ids": [Command.create(vals) for vals in lines],
            }
        )
        difference = Decimal(str(credit_note.amount_total)) - refund.amount
        if refund.amount and abs(difference) > TOLERANCE:
            credit_note.message_post(
                body=_(
                    "Shopify refunded %(amount)s; this draft totals %(total)s. "
                    "Adjust it before posting.",
                    amount=refund.amount,
                    total=credit_note.amount_total,
                )
            )
        return credit_note

    def _shopify_refund_line_vals(self, sale, refund):
        bound = self._shopify_bound_lines(sale)
        vals_list = []
        for line in refund.lines:
            so_line = bound.get(line.line_item_id)
            if not so_line:
                raise BusinessError(
                    "invalid_payload",
                    _(
                        "Refund %(refund)s names line item %(line)s, which order "
                        "%(order)s does not have.",
                        refund=refund.id,
                        line=line.line_item_id,
                        order=sale.name,
                    ),
                )
            vals_list.append(_credit_line(so_line, float(line.quantity)))
        delivery = sale.order_line.filtered("is_delivery")[:1]
        if refund.shipping and delivery:
            vals = _credit_line(delivery, 1.0)
            amount = refund.shipping
            if delivery.tax_id and all(delivery.tax_id.mapped("price_include")):
                amount += refund.shipping_tax
            vals.update(price_unit=float(amount), discount=0.0)
            vals_list.append(vals)
        return vals_list


def _credit_line(so_line, quantity):
    exact = exact_discount(so_line)
    return {
        "shopify_discount_percent": exact or 0.0,
        "product_id": so_line.product_id.id,
        "name": so_line.name,
        "quantity": quantity,
        "product_uom_id": so_line.product_uom.id,
        "price_unit": so_line.price_unit,
        "discount": so_line.discount,
        "tax_ids": [Command.set(so_line.tax_id.ids)],
        "sale_line_ids": [Command.link(so_line.id)],
    }
