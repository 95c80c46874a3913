# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shipment milestones: the canonical record of where a delivery is.

Any connector writes them through one method,
:meth:`DsyncShipmentMilestone._dsync_record` (the carrier connector from its
tracking, the warehouse connector for *shipped*, a person by hand); any
other reads them (the channel connectors tell the customer, the order
timeline shows them). Nothing here knows a platform.

A milestone belongs to a delivery (``stock.picking``) and, when the
delivery ships in several packages, to one of them: each (delivery,
package) pair is a *track* with its own current milestone. Milestones are
applied in the order they happened: one older than its track's current
milestone is recorded *stale* and changes nothing. The delivery's status is
the least advanced status of its tracks (delivered once every package is),
or a problem (failure, returned to sender) as soon as one package has one.
"""

from odoo import _, api, fields, models

STATUSES = [
    ("pre_transit", "Label created"),
    ("shipped", "Shipped"),
    ("in_transit", "In transit"),
    ("out_for_delivery", "Out for delivery"),
    ("attempted_delivery", "Delivery attempted"),
    ("available_for_pickup", "Available for pickup"),
    ("delivered", "Delivered"),
    ("return_to_sender", "Returned to sender"),
    ("failure", "Delivery failure"),
    ("cancelled", "Cancelled"),
    ("unknown", "Unknown"),
]
# How far along a parcel is; the delivery's status is its least advanced one.
PROGRESS = {
    "pre_transit": 1,
    "shipped": 2,
    "in_transit": 3,
    "out_for_delivery": 4,
    "attempted_delivery": 4.5,
    "available_for_pickup": 5,
    "delivered": 6,
}
PROBLEMS = ("failure", "return_to_sender")
# OCA delivery_state's picking-level state of each status (unknown: no change).
DELIVERY_STATES = {
    "pre_transit": "shipping_recorded_in_carrier",
    "shipped": "in_transit",
    "in_transit": "in_transit",
    "out_for_delivery": "in_transit",
    "attempted_delivery": "in_transit",
    "available_for_pickup": "warehouse_delivered",
    "delivered": "customer_delivered",
    "return_to_sender": "incident",
    "failure": "incident",
    "cancelled": "canceled_shipment",
}
SOURCES = [
    ("carrier", "Carrier platform"),
    ("wms", "Warehouse system"),
    ("manual", "Entered in Odoo"),
]
HISTORY_LINES = 50


def aggregate_status(tracks):
    """The delivery's status from its tracks' current (status, time): the
    most recent problem if a package has one, else the least advanced
    status (delivered once every package is), else cancelled or unknown."""
    problems = [(at, status) for status, at in tracks if status in PROBLEMS]
    if problems:
        return max(problems)[1]
    moving = [status for status, _at in tracks if status in PROGRESS]
    if moving:
        return min(moving, key=PROGRESS.get)
    if any(status == "cancelled" for status, _at in tracks):
        return "cancelled"
    return "unknown"


class DsyncShipmentMilestone(models.Model):
    _name = "dsync.shipment.milestone"
    _description = "Shipment Milestone"
    _order = "occurred_at desc, id desc"
    _rec_name = "status"

    picking_id = fields.Many2one(
        "stock.picking",
        string="Delivery",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    package_id = fields.Many2one(
        "stock.quant.package",
        string="Package",
        ondelete="set null",
        index=True,
        readonly=True,
        help="Empty when the milestone is about the whole delivery.",
    )
    company_id = fields.Many2one(
        related="picking_id.company_id", store=True, index=True
    )
    partner_id = fields.Many2one(related="picking_id.partner_id", string="Customer")
    origin = fields.Char(related="picking_id.origin", string="Order")
    tracking_ref = fields.Char("Tracking Number", index=True, readonly=True)
    status = fields.Selection(STATUSES, required=True, index=True, readonly=True)
    detail = fields.Char(readonly=True, help="What the carrier said.")
    detail_code = fields.Char(readonly=True, help="The platform's detail code.")
    occurred_at = fields.Datetime("When", required=True, index=True, readonly=True)
    place = fields.Char(readonly=True)
    source = fields.Selection(SOURCES, required=True, default="manual", readonly=True)
    origin_channel = fields.Char(
        "Received By", readonly=True, help="webhook, polling, label purchase..."
    )
    backend_id = fields.Many2one("dsync.backend", ondelete="set null", readonly=True)
    event_id = fields.Many2one("dsync.event", ondelete="set null", readonly=True)
    signed_by = fields.Char(readonly=True)
    proof_url = fields.Char("Proof of Delivery", readonly=True)
    external_key = fields.Char(
        readonly=True,
        help="Identifies the milestone at its source: the same milestone "
        "delivered twice is recorded once.",
    )
    state = fields.Selection(
        [("applied", "Applied"), ("stale", "Stale")],
        default="applied",
        required=True,
        readonly=True,
        help="Stale: older than what its track had applied; recorded, changes nothing.",
    )
    is_current = fields.Boolean(
        "Current", readonly=True, index=True, help="The track's latest milestone."
    )
    status_since = fields.Datetime(
        readonly=True, help="Since when the track has had this status."
    )
    changed_status = fields.Boolean(
        "Moved the Delivery",
        readonly=True,
        help="Applying it changed the delivery's status.",
    )

    _sql_constraints = [
        (
            "external_key_unique",
            "unique(picking_id, external_key)",
            "This milestone was already recorded for this delivery.",
        )
    ]

    @api.depends("status", "picking_id")
    def _compute_display_name(self):
        labels = dict(STATUSES)
        for milestone in self:
            milestone.display_name = (
                f"{milestone.picking_id.name or ''}: "
                f"{labels.get(milestone.status, milestone.status or '')}"
            )

    # ------------------------------------------------------------------
    # writing (the API of every connector)
    # ------------------------------------------------------------------
    @api.model
    def _dsync_record(self, entries):
        """Record milestones; returns the new ones (applied and stale).

        :param entries: dicts with ``picking`` (a stock.picking), ``status``
            (one of STATUSES' keys), ``occurred_at`` (naive UTC datetime),
            and optionally ``package`` (stock.quant.package), ``detail``,
            ``detail_code``, ``place``, ``tracking_ref``, ``source``,
            ``origin_channel``, ``backend`` (dsync.backend), ``event``
            (dsync.event), ``signed_by``, ``proof_url``, ``external_key``.

        An entry whose ``external_key`` the delivery already has is skipped
        (a redelivery, a poll that saw it). The others are applied in time
        order per track; an *unknown* status is recorded without moving its
        track. Then each delivery's status is computed again, the
        milestones that changed it are marked, and :meth:`_dsync_on_applied`
        runs for the applied ones (channels, e-mails).
        """
        entries = [dict(entry) for entry in entries if entry]
        if not entries:
            return self.browse()
        pickings = self.env["stock.picking"].browse(
            sorted({entry["picking"].id for entry in entries})
        )
        self._dsync_lock_pickings(pickings)
        entries = self._dsync_new_entries(pickings, entries)
        if not entries:
            return self.browse()
        currents = {
            (m.picking_id.id, m.package_id.id): m
            for m in self.search(
                [("picking_id", "in", pickings.ids), ("is_current", "=", True)]
            )
        }
        tracks = {key: (m.status, m.occurred_at) for key, m in currents.items()}
        before = dict(tracks)
        since = {key: m.status_since for key, m in currents.items()}
        vals_list = []
        for entry in sorted(entries, key=lambda e: e["occurred_at"]):
            vals_list.append(self._dsync_apply_entry(entry, tracks, since))
        records = self.create(vals_list)
        self._dsync_update_currents(records, currents)
        applied = records.filtered(lambda m: m.state == "applied")
        pickings._dsync_apply_milestones(applied, before)
        if applied:
            applied._dsync_on_applied()
        return records

    def _dsync_lock_pickings(self, pickings):
        """Milestones of one delivery are recorded one transaction at a
        time (two packages' updates processed at once); ids sorted, so two
        transactions never wait for each other in a circle."""
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT id FROM stock_picking WHERE id IN %s ORDER BY id FOR NO KEY UPDATE",
            (tuple(pickings.ids),),
        )

    def _dsync_new_entries(self, pickings, entries):
        """``entries`` without those already recorded (same delivery and
        external key), each once."""
        keys = [entry["external_key"] for entry in entries if entry.get("external_key")]
        seen = set()
        if keys:
            for milestone in self.search(
                [("picking_id", "in", pickings.ids), ("external_key", "in", keys)]
            ):
                seen.add((milestone.picking_id.id, milestone.external_key))
        fresh = []
        for entry in entries:
            key = (entry["picking"].id, entry.get("external_key"))
            if key[1]:
                if key in seen:
                    continue
                seen.add(key)
            fresh.append(entry)
        return fresh

    def _dsync_apply_entry(self, entry, tracks, since):
        """Values of one new milestone; moves its track in ``tracks``."""
        picking, package = entry["picking"], entry.get("package")
        key = (picking.id, package.id if package else False)
        status, at = entry["status"], entry["occurred_at"]
        current = tracks.get(key)
        stale = bool(current and at < current[1])
        vals = {
            "picking_id": picking.id,
            "package_id": package.id if package else False,
            "status": status,
            "occurred_at": at,
            "state": "stale" if stale else "applied",
            "detail": (entry.get("detail") or "")[:512] or False,
            "detail_code": entry.get("detail_code") or False,
            "place": entry.get("place") or False,
            "tracking_ref": entry.get("tracking_ref") or False,
            "source": entry.get("source") or "manual",
            "origin_channel": entry.get("origin_channel") or False,
            "backend_id": entry["backend"].id if entry.get("backend") else False,
            "event_id": entry["event"].id if entry.get("event") else False,
            "signed_by": entry.get("signed_by") or False,
            "proof_url": entry.get("proof_url") or False,
            "external_key": entry.get("external_key") or False,
        }
        if stale or status == "unknown":
            return vals
        same = current and current[0] == status
        vals["status_since"] = since.get(key) if same and since.get(key) else at
        vals["is_current"] = True
        tracks[key] = (status, at)
        since[key] = vals["status_since"]
        return vals

    def _dsync_update_currents(self, records, previous):
        """One current milestone per track: the newest applied."""
        by_track = {}
        for milestone in records.filtered("is_current"):
            key = (milestone.picking_id.id, milestone.package_id.id)
            by_track.setdefault(key, []).append(milestone)
        superseded = []
        for key, milestones in by_track.items():
            milestones.sort(key=lambda m: (m.occurred_at, m.id))
            superseded += [m.id for m in milestones[:-1]]
            if key in previous:
                superseded.append(previous[key].id)
        if superseded:
            self.browse(superseded).write({"is_current": False})

    # ------------------------------------------------------------------
    # reactions (connectors extend this)
    # ------------------------------------------------------------------
    def _dsync_on_applied(self):
        """Called with the milestones just applied (oldest first) once the
        deliveries' statuses are computed. Connectors extend it to tell the
        channel; here: the customer e-mails of the configured statuses."""
        moved = self.filtered("changed_status")
        if moved:
            self.env["dsync.shipment.notification"]._dsync_notify(moved)

    # ------------------------------------------------------------------
    # user actions
    # ------------------------------------------------------------------
    def action_open_picking(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "stock.picking",
            "res_id": self.picking_id.id,
            "view_mode": "form",
            "name": _("Delivery"),
        }
