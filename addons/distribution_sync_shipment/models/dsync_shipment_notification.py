# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from .dsync_shipment_milestone import STATUSES


class DsyncShipmentNotification(models.Model):
    """An e-mail to the customer when a delivery reaches a status."""

    _name = "dsync.shipment.notification"
    _description = "Shipment E-mail to the Customer"
    _order = "company_id, status"

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    status = fields.Selection(
        [s for s in STATUSES if s[0] not in ("unknown",)],
        required=True,
        help="When the delivery reaches this status (every package, for Delivered).",
    )
    mail_template_id = fields.Many2one(
        "mail.template",
        string="E-mail Template",
        required=True,
        domain=[("model", "=", "stock.picking")],
    )
    active = fields.Boolean(default=True)

    _sql_constraints = [
        (
            "status_unique",
            "unique(company_id, status, mail_template_id)",
            "This e-mail is already sent for this status.",
        )
    ]

    @api.model
    def _dsync_notify(self, milestones):
        """Send the e-mails of the statuses the deliveries of ``milestones``
        (the ones that moved a delivery) reached; per delivery, only the
        status it is in now (three scans received at once make one e-mail).

        The "delivered" e-mail of OCA delivery_state, when the company turned
        it on, already goes out: a rule for Delivered then sends nothing."""
        rules = self.sudo().search([("company_id", "in", milestones.company_id.ids)])
        if not rules:
            return
        for picking in milestones.picking_id:
            if picking.picking_type_code != "outgoing" or not picking.partner_id:
                continue
            status = picking.dsync_shipment_status
            last = milestones.filtered(lambda m, p=picking: m.picking_id == p)[-1:]
            if last.status != status:
                continue
            if (
                status == "delivered"
                and picking.company_id.delivery_state_delivered_email_validation
            ):
                continue
            for rule in rules.filtered(
                lambda r, p=picking, s=status: (
                    r.company_id == p.company_id and r.status == s
                )
            ):
                picking.message_post_with_source(
                    rule.mail_template_id,
                    email_layout_xmlid="mail.mail_notification_light",
                    subtype_xmlid="mail.mt_comment",
                )
