# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from markupsafe import Markup

from odoo import _, fields, models

from .dsync_shipment_milestone import (
    DELIVERY_STATES,
    HISTORY_LINES,
    STATUSES,
    aggregate_status,
)

# Statuses after which the parcel has left the warehouse.
LEFT = (
    "shipped",
    "in_transit",
    "out_for_delivery",
    "attempted_delivery",
    "available_for_pickup",
    "delivered",
    "return_to_sender",
    "failure",
)


class StockPicking(models.Model):
    _inherit = "stock.picking"

    dsync_milestone_ids = fields.One2many(
        "dsync.shipment.milestone", "picking_id", string="Shipment Milestones"
    )
    dsync_shipment_status = fields.Selection(
        STATUSES,
        string="Shipment Status",
        readonly=True,
        copy=False,
        index=True,
        help="Where the delivery is, from its milestones: the least advanced "
        "of its packages, or a problem as soon as one package has one.",
    )
    dsync_status_since = fields.Datetime(
        "Shipment Status Since", readonly=True, copy=False
    )
    dsync_delivered_at = fields.Datetime("Delivered At", readonly=True, copy=False)
    dsync_signed_by = fields.Char("Signed By", readonly=True, copy=False)
    dsync_proof_url = fields.Char("Proof of Delivery", readonly=True, copy=False)

    def _dsync_apply_milestones(self, applied, before):
        """Compute each delivery's status again after ``applied`` (its new
        applied milestones; ``before``: {(picking id, package id): (status,
        time)} of its tracks before them), in time order: a milestone that
        changes the delivery's status is marked ``changed_status``. Then
        the delivery's fields, OCA delivery_state's included."""
        by_picking = {}
        for milestone in applied.sorted(lambda m: (m.occurred_at, m.id)):
            if milestone.status != "unknown":
                by_picking.setdefault(milestone.picking_id.id, []).append(milestone.id)
        Milestone = self.env["dsync.shipment.milestone"]
        for picking in self:
            mine = Milestone.browse(by_picking.get(picking.id, []))
            if not mine:
                continue
            tracks = {k: v for k, v in before.items() if k[0] == picking.id}
            status = aggregate_status(tracks.values()) if tracks else False
            moved = self.env["dsync.shipment.milestone"]
            for milestone in mine:
                tracks[(picking.id, milestone.package_id.id)] = (
                    milestone.status,
                    milestone.occurred_at,
                )
                new = aggregate_status(tracks.values())
                if new != status:
                    moved |= milestone
                    status = new
            moved.write({"changed_status": True})
            picking._dsync_write_status(status, moved[-1:], mine)

    def _dsync_write_status(self, status, moved, milestones):
        self.ensure_one()
        vals = {}
        if status != self.dsync_shipment_status:
            vals["dsync_shipment_status"] = status
            vals["dsync_status_since"] = (
                moved.occurred_at if moved else milestones[-1].occurred_at
            )
        latest = milestones[-1]
        labels = dict(STATUSES)
        vals["tracking_state"] = latest.detail or labels[latest.status]
        lines = [
            " · ".join(
                part
                for part in (
                    fields.Datetime.to_string(m.occurred_at),
                    labels[m.status],
                    m.detail or "",
                    m.place or "",
                )
                if part
            )
            for m in reversed(milestones)
        ]
        history = (self.tracking_state_history or "").splitlines()
        vals["tracking_state_history"] = "\n".join((lines + history)[:HISTORY_LINES])
        if status in LEFT and not self.date_shipped:
            first = milestones.filtered(lambda m: m.status in LEFT)[:1]
            vals["date_shipped"] = (first or latest).occurred_at.date()
        delivery_state = DELIVERY_STATES.get(status)
        delivered = status == "delivered" and self.dsync_shipment_status != "delivered"
        if delivered:
            proof = self.env["dsync.shipment.milestone"].search(
                [
                    ("picking_id", "=", self.id),
                    ("is_current", "=", True),
                    ("status", "=", "delivered"),
                ],
                order="occurred_at, id",
            )
            vals.update(
                dsync_delivered_at=proof[-1:].occurred_at or latest.occurred_at,
                date_delivered=proof[-1:].occurred_at or latest.occurred_at,
                dsync_signed_by=", ".join(
                    sorted(set(proof.filtered("signed_by").mapped("signed_by")))
                )
                or False,
                dsync_proof_url=proof.filtered("proof_url")[-1:].proof_url or False,
            )
        if delivery_state and delivery_state != self.delivery_state:
            # delivery_state sends its "delivered" e-mail from this write
            vals["delivery_state"] = delivery_state
        self.write(vals)
        if delivered:
            self._dsync_on_delivered()

    def _dsync_on_delivered(self):
        """The delivery has just been delivered (every package): the proof
        is on it (``dsync_delivered_at``, ``dsync_signed_by``,
        ``dsync_proof_url``). The hook for what follows a delivery (an
        invoice sent on delivery, a follow-up); here, a note."""
        for picking in self:
            body = _(
                "Delivered on %s.",
                fields.Datetime.to_string(picking.dsync_delivered_at),
            )
            if picking.dsync_signed_by:
                body += " " + _("Signed by %s.", picking.dsync_signed_by)
            if picking.dsync_proof_url:
                body = Markup("{} <a href='{}' target='_blank'>{}</a>").format(
                    body, picking.dsync_proof_url, _("Proof of delivery")
                )
            picking.message_post(body=body)

    def action_dsync_milestones(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_sync_shipment.dsync_shipment_milestone_action"
        )
        action["domain"] = [("picking_id", "=", self.id)]
        action["context"] = {}
        return action
