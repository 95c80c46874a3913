# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models

from .delivery_carrier import DELIVERY_TYPE

LABEL_SUMMARY = [
    ("pending", "Label pending"),
    ("failed", "Label failed"),
    ("bought", "Labels bought"),
    ("cancelled", "Labels cancelled"),
]


class StockPicking(models.Model):
    _inherit = "stock.picking"

    dsync_label_ids = fields.One2many(
        "dsync.carrier.label", "picking_id", string="Carrier Labels"
    )
    dsync_label_state = fields.Selection(
        LABEL_SUMMARY,
        string="Carrier Label",
        compute="_compute_dsync_label_state",
        store=True,
        index=True,
        help="Label pending: the delivery is validated and its labels are being "
        "bought in the background. Label failed: an exception says why.",
    )

    @api.depends("dsync_label_ids.state")
    def _compute_dsync_label_state(self):
        for picking in self:
            states = set(picking.dsync_label_ids.mapped("state"))
            if not states:
                picking.dsync_label_state = False
            elif "failed" in states:
                picking.dsync_label_state = "failed"
            elif "pending" in states:
                picking.dsync_label_state = "pending"
            elif "bought" in states:
                picking.dsync_label_state = "bought"
            else:
                picking.dsync_label_state = "cancelled"

    def send_to_shipper(self):
        """For a carrier platform method: queue the labels (see
        ``delivery.carrier.send_shipping``) and say so; the tracking
        numbers, price and documents come with the purchase."""
        if self.carrier_id.delivery_type != DELIVERY_TYPE:
            return super().send_to_shipper()
        self.ensure_one()
        self.carrier_id.send_shipping(self)
        self.message_post(
            body=_(
                "%(count)s label(s) queued with %(backend)s; they are bought in "
                "the background (the delivery shows Label pending until then).",
                count=len(
                    self.dsync_label_ids.filtered(lambda lb: lb.state == "pending")
                ),
                backend=self.carrier_id.dsync_backend_id.name,
            )
        )

    def _dsync_carrier_queue_labels(self, carrier):
        """One label per package of the delivery (and one for what is
        shipped outside any package), each queued on the backend's labels
        flow. Never twice for the same delivery."""
        self.ensure_one()
        active = self.dsync_label_ids.filtered(
            lambda lb: lb.state in ("pending", "failed", "bought")
        )
        if active:
            return active
        lines = self.move_line_ids.filtered(lambda ml: ml.quantity)
        packages = lines.result_package_id
        parcels = [(package.name, package) for package in packages]
        if lines.filtered(lambda ml: not ml.result_package_id) or not parcels:
            name = self.name if not parcels else _("%s (not packed)", self.name)
            parcels.append((name, self.env["stock.quant.package"]))
        labels = (
            self.env["dsync.carrier.label"]
            .sudo()
            .create(
                [
                    {
                        "name": name,
                        "picking_id": self.id,
                        "package_id": package.id,
                        "carrier_id": carrier.id,
                        "backend_id": carrier.dsync_backend_id.id,
                        "label_format": carrier.dsync_label_format,
                    }
                    for name, package in parcels
                ]
            )
        )
        for label in labels:
            self._dsync_carrier_post_label(label)
        return labels

    def _dsync_carrier_post_label(self, label):
        message = (
            self.env["dsync.outbox"]
            .sudo()
            ._dsync_post(
                label.backend_id,
                "labels",
                f"label:{label.id}",
                {"label_id": label.id, "picking": self.name, "parcel": label.name},
                record=label,
            )
        )
        label.outbox_id = message

    def _dsync_carrier_labels_changed(self):
        """The delivery's tracking reference lists every bought label's
        tracking number; its shipping cost is their postage."""
        for picking in self:
            bought = picking.dsync_label_ids.filtered(lambda lb: lb.state == "bought")
            reference = ",".join(bought.sorted("id").mapped("tracking_code")) or False
            vals = {}
            if reference != (picking.carrier_tracking_ref or False):
                vals["carrier_tracking_ref"] = reference
            price = sum(
                picking._dsync_postage_in_company_currency(label) for label in bought
            )
            if bought and price != picking.carrier_price:
                vals["carrier_price"] = picking.carrier_id.with_context(
                    order=picking.sale_id
                )._apply_margins(price)
            if vals:
                picking.write(vals)
                if "carrier_price" in vals and not picking.dsync_label_ids.filtered(
                    lambda lb: lb.state == "pending"
                ):
                    picking._add_delivery_cost_to_so()

    def _dsync_postage_in_company_currency(self, label):
        company = self.company_id
        currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", label.currency_code or "")], limit=1)
        )
        if not currency or currency == company.currency_id:
            return label.amount
        return currency._convert(
            label.amount, company.currency_id, company, fields.Date.today()
        )

    def action_dsync_labels(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "connector_carrier.dsync_carrier_label_action"
        )
        action["domain"] = [("picking_id", "=", self.id)]
        action["context"] = {}
        return action
