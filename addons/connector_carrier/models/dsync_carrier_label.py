# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""One carrier label: a package of a delivery (or the whole delivery when
nothing is packed), bought in the background once the delivery is validated.

States: *pending* (queued: the delivery shows "label pending") → *bought*
(tracking number and document on the delivery) or *failed* (an exception
says why: an address to fix...), then *cancelled* before purchase, or a
refund: *refund requested* → *refund submitted* → *refunded* / *refund
rejected* / *not refundable*.
"""

import base64
import logging

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.distribution_sync_core.errors import BusinessError

from ..platforms.base import STATUSES as PLATFORM_STATUSES
from ..platforms.base import AddressError, AlreadyBought, check_document, select_rate

_logger = logging.getLogger(__name__)

LABEL_STATES = [
    ("pending", "Label pending"),
    ("bought", "Bought"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("refund_requested", "Refund requested"),
    ("refund_submitted", "Refund submitted"),
    ("refunded", "Refunded"),
    ("refund_rejected", "Refund rejected"),
    ("refund_not_applicable", "Not refundable"),
]
REFUND_STATES = {
    "submitted": "refund_submitted",
    "refunded": "refund_submitted",
    "rejected": "refund_rejected",
    "not_applicable": "refund_not_applicable",
}
FINAL_TRACKING = ("delivered", "return_to_sender", "cancelled")
DOCUMENT_TYPES = {"PDF": ("pdf", "application/pdf"), "ZPL": ("zpl", "text/plain")}


class DsyncCarrierLabel(models.Model):
    _name = "dsync.carrier.label"
    _description = "Carrier Label"
    _order = "id desc"

    name = fields.Char("Parcel", required=True, readonly=True)
    picking_id = fields.Many2one(
        "stock.picking",
        string="Delivery",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    package_id = fields.Many2one(
        "stock.quant.package", string="Package", ondelete="set null", readonly=True
    )
    partner_id = fields.Many2one(related="picking_id.partner_id", string="Customer")
    origin = fields.Char(related="picking_id.origin", string="Order")
    carrier_id = fields.Many2one(
        "delivery.carrier", string="Delivery Method", required=True, readonly=True
    )
    backend_id = fields.Many2one(
        "dsync.backend", required=True, ondelete="restrict", index=True, readonly=True
    )
    company_id = fields.Many2one(
        related="picking_id.company_id", store=True, index=True
    )
    state = fields.Selection(
        LABEL_STATES, default="pending", required=True, readonly=True, index=True
    )
    pending_since = fields.Datetime(readonly=True, default=fields.Datetime.now)
    weight_oz = fields.Float("Weight (oz)", readonly=True)
    shipment_ref = fields.Char(
        "Platform Shipment", readonly=True, index=True, copy=False
    )
    failed_shipment_ref = fields.Char(readonly=True, copy=False)
    rate_ref = fields.Char(readonly=True)
    carrier_name = fields.Char("Carrier", readonly=True)
    service = fields.Char(readonly=True)
    amount = fields.Float("Postage", readonly=True, digits="Product Price")
    currency_code = fields.Char("Postage Currency", readonly=True)
    tracking_code = fields.Char("Tracking Number", readonly=True, index=True)
    tracker_ref = fields.Char("Platform Tracker", readonly=True, index=True)
    public_url = fields.Char("Tracking Page", readonly=True)
    label_format = fields.Selection(
        [("PDF", "PDF"), ("ZPL", "ZPL")], default="PDF", required=True, readonly=True
    )
    attachment_id = fields.Many2one("ir.attachment", string="Label", readonly=True)
    bought_at = fields.Datetime(readonly=True)
    failure_reason = fields.Text(readonly=True)
    outbox_id = fields.Many2one("dsync.outbox", readonly=True, ondelete="set null")
    refund_status = fields.Char(readonly=True, help="As the platform gives it.")
    tracking_status = fields.Selection(
        [(s, s) for s in PLATFORM_STATUSES], readonly=True, index=True
    )
    tracking_status_since = fields.Datetime(readonly=True)
    tracker_updated_at = fields.Datetime(
        readonly=True, help="Time of the newest tracker update applied."
    )
    tracking_checked_at = fields.Datetime(readonly=True, index=True)
    stuck_exception_id = fields.Many2one(
        "dsync.exception", readonly=True, ondelete="set null"
    )
    stuck_status = fields.Char(readonly=True)

    def init(self):
        # the polling job's scan: bought labels whose tracking is still moving
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS dsync_carrier_label_poll_idx
                   ON dsync_carrier_label (backend_id, tracking_checked_at)
                WHERE state = 'bought'"""
        )

    @api.model
    def _dsync_tracking_labels(self):
        return dict(self.env["dsync.shipment.milestone"]._fields["status"].selection)

    # ------------------------------------------------------------------
    # purchase (called by the labels flow's sender, one label at a time)
    # ------------------------------------------------------------------
    def _dsync_buy(self, platform):
        """Buy this label once, whatever happened before; fetch and attach
        its document. Returns True when the platform was called.

        Exactly once without help from the platform: the shipment is
        created and recorded (committed) before ``buy``; every later
        attempt reads the recorded shipment back first and buys only if it
        has no postage. A timeout of ``buy`` (it may have been made) is a
        transient error: the next attempt finds out."""
        self.ensure_one()
        if self.state not in ("pending", "failed", "bought"):
            return False  # cancelled or refunded meanwhile: nothing to buy
        urls = None
        if self.state != "bought":
            shipment = self._dsync_shipment(platform)
            if not shipment.bought:
                rate = self._dsync_rate(shipment)
                try:
                    shipment = platform.buy(
                        shipment.id, rate.id, insurance=self._dsync_insurance()
                    )
                except AlreadyBought:
                    shipment = platform.get_shipment(shipment.id)
                except BusinessError:
                    self.failed_shipment_ref = shipment.id
                    raise
            self._dsync_adopt(shipment)
            urls = shipment.label_urls
        if not self.attachment_id:
            self._dsync_fetch_document(platform, urls)
        return True

    def _dsync_shipment(self, platform):
        """The platform shipment of this label: the recorded one read back,
        or a new one, recorded before anything is bought."""
        Shipment = self.env["dsync.carrier.shipment"].sudo()
        recorded = Shipment._dsync_latest(self)
        if recorded and recorded != self.failed_shipment_ref:
            return platform.get_shipment(recorded)
        request = self.carrier_id._dsync_carrier_request(self)
        try:
            shipment = platform.create_shipment(request)
        except AddressError as err:
            raise self._dsync_address_error(err) from err
        Shipment._dsync_record_committed(self, shipment.id)
        return shipment

    def _dsync_rate(self, shipment):
        carrier = self.carrier_id
        rate = select_rate(
            shipment.rates,
            carrier._dsync_carrier_services(),
            carrier.dsync_carrier_name or "",
            cheapest=carrier.dsync_service_choice == "cheapest",
        )
        if rate is None:
            offered = ", ".join(f"{r.carrier} {r.service}" for r in shipment.rates)
            raise BusinessError(
                "missing_mapping",
                _(
                    "The platform offers no rate for %(method)s (%(services)s) "
                    "for %(parcel)s; it offers: %(offered)s. Change the service "
                    "of the delivery method, then retry.",
                    method=carrier.name,
                    services=", ".join(carrier._dsync_carrier_services()) or _("any"),
                    parcel=self.name,
                    offered=offered or _("nothing"),
                ),
                kind_key=f"carrier_service:{carrier.id}",
                record=self.picking_id,
            )
        return rate

    def _dsync_insurance(self):
        """The declared value to insure (a string, in the company currency),
        or None."""
        if not self.carrier_id.dsync_insure:
            return None
        moves = self.picking_id.move_line_ids.filtered(
            lambda ml: ml.result_package_id == self.package_id
        )
        value = sum(ml.quantity * ml.product_id.lst_price for ml in moves)
        return f"{value:.2f}" if value > 0 else None

    def _dsync_address_error(self, err):
        picking = self.picking_id
        partner = picking.partner_id
        fields_text = (
            "; ".join(
                f"{field or _('address')}: {message}" for field, message in err.fields
            )
            or err.message
        )
        return BusinessError(
            "invalid_address",
            _(
                "The carrier platform cannot verify the delivery address of "
                "%(picking)s (%(customer)s): %(fields)s. Fix the address on the "
                "customer, then retry.",
                picking=picking.name,
                customer=partner.display_name or "-",
                fields=fields_text,
            ),
            kind_key=f"address:{partner.id}",
            record=picking,
            details=err.details,
        )

    def _dsync_adopt(self, shipment):
        """Record a bought shipment on the label and its delivery."""
        rate = shipment.selected_rate
        self.write(
            {
                "state": "bought",
                "shipment_ref": shipment.id,
                "rate_ref": rate.id if rate else False,
                "carrier_name": rate.carrier if rate else False,
                "service": rate.service if rate else False,
                "amount": rate.amount if rate else 0.0,
                "currency_code": rate.currency if rate else False,
                "tracking_code": shipment.tracking_code,
                "tracker_ref": shipment.tracker_id or False,
                "public_url": shipment.public_url or False,
                "bought_at": fields.Datetime.now(),
                "tracking_checked_at": fields.Datetime.now(),
                "failure_reason": False,
            }
        )
        self.picking_id._dsync_carrier_labels_changed()
        self.env["dsync.shipment.milestone"]._dsync_record(
            [
                {
                    "picking": self.picking_id,
                    "package": self.package_id,
                    "status": "pre_transit",
                    "occurred_at": fields.Datetime.now(),
                    "detail": _(
                        "Label bought: %(carrier)s %(service)s",
                        carrier=self.carrier_name or "",
                        service=self.service or "",
                    ),
                    "tracking_ref": self.tracking_code,
                    "source": "carrier",
                    "origin_channel": "label",
                    "backend": self.backend_id,
                    "external_key": f"label:{shipment.id}",
                }
            ]
        )

    def _dsync_fetch_document(self, platform, urls=None):
        """Fetch the label's document, check it is what its format says,
        attach it to the delivery (named after its package)."""
        if urls is None:
            urls = platform.get_shipment(self.shipment_ref).label_urls
        url = urls.get(self.label_format)
        if not url:
            raise BusinessError(
                "platform_rejected",
                _(
                    "The platform gave no %(format)s document for the label of "
                    "%(parcel)s (it gave: %(given)s).",
                    format=self.label_format,
                    parcel=self.name,
                    given=", ".join(urls) or _("none"),
                ),
                record=self.picking_id,
                kind_key=f"label_document:{self.id}",
            )
        content = platform.fetch_document(url)
        try:
            check_document(content, self.label_format)
        except BusinessError as err:
            err.record = self.picking_id
            err.kind_key = f"label_document:{self.id}"
            err.message = _(
                "The label of %(parcel)s was bought (tracking %(tracking)s) but its "
                "document is not a %(format)s file; retry to fetch it again. %(why)s",
                parcel=self.name,
                tracking=self.tracking_code,
                format=self.label_format,
                why=err.message,
            )
            raise
        extension, mimetype = DOCUMENT_TYPES[self.label_format]
        picking = self.picking_id
        prefix = self.carrier_id._get_delivery_label_prefix()
        attachment = self.env["ir.attachment"].create(
            {
                "name": f"{prefix}-{self.name}-{self.tracking_code}.{extension}",
                "datas": base64.b64encode(content),
                "mimetype": mimetype,
                "res_model": "stock.picking",
                "res_id": picking.id,
            }
        )
        self.attachment_id = attachment
        picking.message_post(
            body=Markup("{}<br/>{}").format(
                _(
                    "Label bought for %(parcel)s: %(carrier)s %(service)s, tracking "
                    "%(tracking)s.",
                    parcel=self.name,
                    carrier=self.carrier_name or "",
                    service=self.service or "",
                    tracking=self.tracking_code,
                ),
                _(
                    "Postage: %(amount).2f %(currency)s",
                    amount=self.amount,
                    currency=self.currency_code or "",
                ),
            ),
            attachment_ids=attachment.ids,
        )

    def _dsync_fail(self, err):
        self.write({"state": "failed", "failure_reason": err.message})
        self.picking_id._dsync_carrier_labels_changed()

    # ------------------------------------------------------------------
    # cancel / refund
    # ------------------------------------------------------------------
    def _dsync_cancel(self):
        """Cancel labels: a pending one is not bought; a bought one is
        refunded through the label_refunds flow."""
        Outbox = self.env["dsync.outbox"].sudo()
        for label in self:
            if label.state in ("pending", "failed"):
                if label.outbox_id.state in ("pending", "failed"):
                    label.outbox_id.action_cancel()
                label.write({"state": "cancelled"})
            elif label.state == "bought":
                label.write({"state": "refund_requested"})
                Outbox._dsync_post(
                    label.backend_id,
                    "label_refunds",
                    f"refund:{label.id}",
                    {"label_id": label.id, "shipment": label.shipment_ref},
                    record=label,
                )
        self.picking_id._dsync_carrier_labels_changed()

    def _dsync_refund(self, platform):
        self.ensure_one()
        if self.state not in ("refund_requested", "refund_rejected"):
            return False
        status = platform.refund(self.shipment_ref)
        self._dsync_set_refund_status(status)
        self.env["dsync.shipment.milestone"]._dsync_record(
            [
                {
                    "picking": self.picking_id,
                    "package": self.package_id,
                    "status": "cancelled",
                    "occurred_at": fields.Datetime.now(),
                    "detail": _("Label cancelled: refund %s", status),
                    "tracking_ref": self.tracking_code,
                    "source": "carrier",
                    "origin_channel": "refund",
                    "backend": self.backend_id,
                    "external_key": f"refund:{self.shipment_ref}",
                }
            ]
        )
        return True

    def _dsync_set_refund_status(self, status):
        status = (status or "").lower()
        state = "refunded" if status == "refunded" else REFUND_STATES.get(status)
        vals = {"refund_status": status}
        if state:
            vals["state"] = state
        self.write(vals)

    # ------------------------------------------------------------------
    # user actions
    # ------------------------------------------------------------------
    def action_retry(self):
        """Buy again a failed label (after fixing its address...). Open to
        whoever sees the label (the warehouse): the labels and their
        messages are the sync's records."""
        self.check_access("read")
        self = self.sudo()  # noqa: PLW0642 - see the docstring
        for label in self.filtered(lambda lb: lb.state == "failed"):
            label.write({"state": "pending", "pending_since": fields.Datetime.now()})
            if label.outbox_id.state == "failed":
                label.outbox_id.sudo().action_retry()
            else:
                label.picking_id._dsync_carrier_post_label(label)
        self.picking_id._dsync_carrier_labels_changed()
        return True

    def action_cancel_label(self):
        self.check_access("read")
        self = self.sudo()  # noqa: PLW0642 - the warehouse cancels its labels
        if self.filtered(lambda lb: lb.state not in ("pending", "failed", "bought")):
            raise UserError(
                _("Only pending, failed or bought labels can be cancelled.")
            )
        self._dsync_cancel()
        return True

    def action_open_picking(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "stock.picking",
            "res_id": self.picking_id.id,
            "view_mode": "form",
        }
