# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models


class DsyncCarrierShipment(models.Model):
    """A shipment created at the platform for a label, recorded before
    its postage is bought.

    The platform has no idempotency key on its purchase: what makes a label
    bought once is that the shipment is known before the purchase. This row
    is committed on a connection of its own before ``buy`` is called; a
    purchase whose answer is lost (a timeout, a worker killed) is found
    again on the next attempt by reading this shipment back, and bought
    only if it has no postage. Rows are only inserted (never updated), so
    the label's own transaction never conflicts with them.
    """

    _name = "dsync.carrier.shipment"
    _description = "Carrier Platform Shipment of a Label"
    _order = "id desc"

    label_id = fields.Many2one(
        "dsync.carrier.label", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="label_id.company_id", store=True)
    shipment_ref = fields.Char("Platform Shipment", required=True, index=True)

    @api.model
    def _dsync_latest(self, label):
        """The shipment recorded last for ``label`` (its ref), or False.
        Read with SQL: committed rows only matter, whatever the cache."""
        self.env.cr.execute(
            """SELECT shipment_ref FROM dsync_carrier_shipment
                WHERE label_id = %s ORDER BY id DESC LIMIT 1""",
            (label.id,),
        )
        row = self.env.cr.fetchone()
        return row[0] if row else False

    @api.model
    def _dsync_record_committed(self, label, shipment_ref):
        """Insert and commit at once, on a connection of its own (in a test,
        the test's cursor: its commit is a savepoint)."""
        with self.env.registry.cursor() as cr:
            cr.execute(
                """INSERT INTO dsync_carrier_shipment
                       (label_id, shipment_ref, create_uid, create_date,
                        write_uid, write_date)
                   VALUES (%s, %s, %s, now() at time zone 'UTC',
                           %s, now() at time zone 'UTC')""",
                (label.id, shipment_ref, self.env.uid, self.env.uid),
            )
