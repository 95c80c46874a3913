# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, fields, models

from .dsync_exception import OPEN_STATES


class DsyncLinkedMixin(models.AbstractModel):
    """Smart buttons from a business record (a sale order, a picking) to the
    sync events and exceptions about it.

    A model that the sync produces or touches inherits this mixin and puts
    the two buttons (``action_dsync_events``, ``action_dsync_exceptions``) in
    its form. By default the events and exceptions linked to the record
    (``res_model``/``res_id``) count; a connector widens
    :meth:`_dsync_linked_domain` (the sale order of a channel order also owns
    the exceptions that stopped its import, by their reference).
    """

    _name = "dsync.linked.mixin"
    _description = "Sync Events and Exceptions of a Record"

    dsync_event_count = fields.Integer("Sync Events", compute="_compute_dsync_counts")
    dsync_exception_count = fields.Integer(
        "Open Sync Exceptions", compute="_compute_dsync_counts"
    )

    def _dsync_linked_domain(self):
        """Events and exceptions about this record (one record)."""
        self.ensure_one()
        return [("res_model", "=", self._name), ("res_id", "=", self.id)]

    def _compute_dsync_counts(self):
        Event = self.env["dsync.event"]
        Exception = self.env["dsync.exception"]
        allowed = Event.has_access("read") and Exception.has_access("read")
        for record in self:
            if not allowed or not record.id:
                record.dsync_event_count = record.dsync_exception_count = 0
                continue
            domain = record._dsync_linked_domain()
            record.dsync_event_count = Event.search_count(domain)
            record.dsync_exception_count = Exception.search_count(
                domain + [("state", "in", OPEN_STATES)]
            )

    def _dsync_linked_action(self, xmlid, name, context=None):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action.update(
            name=name,
            domain=self._dsync_linked_domain(),
            context=context or {},
        )
        return action

    def action_dsync_events(self):
        return self._dsync_linked_action(
            "distribution_sync_core.dsync_event_action",
            _("Sync events of %s", self.display_name),
        )

    def action_dsync_exceptions(self):
        return self._dsync_linked_action(
            "distribution_sync_core.dsync_exception_action",
            _("Sync exceptions of %s", self.display_name),
            {"search_default_open": 1},
        )
