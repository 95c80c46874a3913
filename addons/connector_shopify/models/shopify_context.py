# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What Shopify's events and the records they make are about, in people's
words: the business context of every topic (the core's contract, see
``distribution_sync_core/models/dsync_business_context.py``), the topics'
names, and the sale order's and delivery's links to their events."""

from odoo import _, models

from ..order_payload import Money, parse_refund, to_money
from .shopify_order import _person_name


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    def _shopify_topic_labels(self):
        return {
            "orders/create": _("New order"),
            "orders/updated": _("Order updated"),
            "orders/cancelled": _("Order cancelled"),
            "refunds/create": _("Refund"),
            "order_transactions/create": _("Payment"),
            "customers/data_request": _("Customer data request"),
            "customers/redact": _("Customer data erasure"),
            "shop/redact": _("Shop data erasure"),
            "app/uninstalled": _("App uninstalled"),
        }

    def _shopify_event_context(self, event, data):
        """Business context of a Shopify event (a dict of the contract's
        keys). Reads the payload as Shopify documents it for each topic; a
        binding lookup at most, never a call to Shopify."""
        if not isinstance(data, dict):
            return {}
        topic = event.topic
        if topic in ("orders/create", "orders/updated", "orders/cancelled"):
            return self._shopify_order_context(data)
        if topic == "refunds/create":
            return self._shopify_refund_context(data)
        if topic == "order_transactions/create":
            return self._shopify_transaction_context(data)
        if topic in ("customers/redact", "customers/data_request"):
            return self._shopify_customer_request_context(topic, data)
        if topic == "shop/redact":
            return {"ref": data.get("shop_domain") or self.shopify_shop_domain}
        if topic == "app/uninstalled":
            return {
                "ref": data.get("myshopify_domain")
                or data.get("domain")
                or self.shopify_shop_domain,
                "record": self,
            }
        return {}

    def _shopify_order_context(self, data):
        """``orders/*``: the order's name (#1001), its customer, its total in
        the currency the store imports in, its SKUs."""
        presentment = self.shopify_currency_policy == "presentment"
        money = Money("presentment" if presentment else "shop")
        currency = (
            data.get("presentment_currency") if presentment else None
        ) or data.get("currency")
        items = data.get("line_items") or []
        return {
            "ref": data.get("name") or data.get("order_number") or data.get("id"),
            "partner_name": _order_customer_name(data),
            "amount": money(data, "total_price") if "total_price" in data else None,
            "currency": currency,
            "skus": [item.get("sku") for item in items if isinstance(item, dict)],
        }

    def _shopify_refund_context(self, data):
        """``refunds/create``: the refunded order (its name, customer and
        sale order, by binding), the amount refunded, the SKUs returned."""
        sale = None
        if data.get("order_id"):
            sale = self.env["dsync.binding"]._find_record(
                self, "sale.order", str(data["order_id"])
            )
        context = {
            "skus": [
                (item.get("line_item") or {}).get("sku")
                for item in data.get("refund_line_items") or []
                if isinstance(item, dict)
            ],
        }
        try:
            refund = parse_refund(data, self.shopify_currency_policy or "shop")
        except (ValueError, TypeError, AttributeError, KeyError):
            refund = None
        if refund is not None and refund.amount:
            context["amount"] = refund.amount
        currencies = [
            t.get("currency")
            for t in data.get("transactions") or []
            if isinstance(t, dict) and t.get("currency")
        ]
        if currencies:
            context["currency"] = currencies[0]
        if sale:
            context.update(
                ref=sale._shopify_name() or sale.name,
                partner=sale.partner_id,
                record=sale,
            )
            context.setdefault("currency", sale.currency_id)
        elif data.get("order_id"):
            context["ref"] = _("Shopify order %s", data["order_id"])
        return context

    def _shopify_transaction_context(self, data):
        """``order_transactions/create``: the paid order (its name, customer
        and sale order, by binding), the amount and its currency."""
        context = {"currency": data.get("currency")}
        try:
            context["amount"] = to_money(data.get("amount"))
        except ValueError:
            pass
        sale = None
        if data.get("order_id"):
            sale = self.env["dsync.binding"]._find_record(
                self, "sale.order", str(data["order_id"])
            )
        if sale:
            context.update(
                ref=sale._shopify_name() or sale.name,
                partner=sale.partner_id,
                record=sale,
            )
        elif data.get("order_id"):
            context["ref"] = _("Shopify order %s", data["order_id"])
        return context

    def _shopify_customer_request_context(self, topic, data):
        """Privacy requests: the request or customer, and the Odoo contact
        (by binding). Never a name or an email: the request may be to erase
        them."""
        customer = data.get("customer") or {}
        partner = None
        if customer.get("id"):
            partner = self.env["dsync.binding"]._find_record(
                self, "res.partner", str(customer["id"])
            )
        if topic == "customers/data_request":
            request = (data.get("data_request") or {}).get("id")
            ref = _("Data request %s", request) if request else None
        else:
            ref = _("Customer %s", customer["id"]) if customer.get("id") else None
        return {"ref": ref, "partner": partner, "record": partner}


def _order_customer_name(data):
    """The customer of a Shopify order as a person reads it: the name
    (and company) of the customer, else of the billing or shipping address,
    else the email."""
    customer = data.get("customer") or {}
    billing = data.get("billing_address") or {}
    shipping = data.get("shipping_address") or {}
    name = _person_name(customer) or _person_name(billing) or _person_name(shipping)
    company = billing.get("company") or shipping.get("company")
    if name and company and company not in name:
        name = f"{name} ({company})"
    return (
        name
        or company
        or customer.get("email")
        or data.get("email")
        or data.get("contact_email")
    )


class SaleOrder(models.Model):
    _name = "sale.order"
    _inherit = ["sale.order", "dsync.linked.mixin"]

    def _dsync_linked_domain(self):
        """The order's events and exceptions: those linked to it, and those
        of its Shopify order number on its store (an import that failed
        before the order existed)."""
        domain = super()._dsync_linked_domain()
        if self.shopify_backend_id and self._shopify_name():
            domain = [
                "|",
                *domain,
                "&",
                ("backend_id", "=", self.shopify_backend_id.id),
                ("doc_ref", "=", self._shopify_name()),
            ]
        return domain

    def _dsync_record_context(self):
        self.ensure_one()
        return {
            "ref": self._shopify_name() or self.name,
            "partner": self.partner_id,
            "amount": self.amount_total,
            "currency": self.currency_id,
            "skus": self.order_line.product_id.mapped("default_code"),
        }


class StockPicking(models.Model):
    _inherit = "stock.picking"

    def _dsync_record_context(self):
        """A delivery of a Shopify order names the order as Shopify does."""
        context = super()._dsync_record_context()
        if self.sale_id and self.sale_id._shopify_name():
            context["ref"] = self.sale_id._shopify_name()
        return context
