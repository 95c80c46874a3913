# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models, tools


class DsyncOverview(models.Model):
    """Counters of the first overview: open exceptions by team, events by state."""

    _name = "dsync.overview"
    _description = "Sync Overview"
    _auto = False
    _order = "kind, code"

    kind = fields.Selection(
        [("exception", "Open exceptions by team"), ("event", "Events by state")],
        readonly=True,
    )
    label = fields.Char(compute="_compute_label")
    code = fields.Char(readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    backend_id = fields.Many2one("dsync.backend", readonly=True)
    count = fields.Integer(readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            tools.SQL(
                """
                CREATE VIEW %s AS (
                    SELECT row_number() OVER () AS id, * FROM (
                        SELECT 'exception' AS kind, team AS code,
                               company_id, backend_id, count(*) AS count
                          FROM dsync_exception
                         WHERE state IN ('open', 'in_progress')
                         GROUP BY team, company_id, backend_id
                        UNION ALL
                        SELECT 'event', state, company_id, backend_id, count(*)
                          FROM dsync_event
                         GROUP BY state, company_id, backend_id
                    ) counters
                )
                """,
                tools.SQL.identifier(self._table),
            )
        )

    def _compute_label(self):
        """The team's or state's label, in the user's language."""
        labels = {
            "exception": dict(
                self.env["dsync.exception"]
                ._fields["team"]
                ._description_selection(self.env)
            ),
            "event": dict(
                self.env["dsync.event"]
                ._fields["state"]
                ._description_selection(self.env)
            ),
        }
        for line in self:
            line.label = labels.get(line.kind, {}).get(line.code, line.code)

    def action_open_records(self):
        self.ensure_one()
        if self.kind == "exception":
            xmlid = "distribution_sync_core.dsync_exception_action"
            domain = [
                ("team", "=", self.code),
                ("state", "in", ("open", "in_progress")),
            ]
        else:
            xmlid = "distribution_sync_core.dsync_event_action"
            domain = [("state", "=", self.code)]
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["domain"] = domain + [("backend_id", "=", self.backend_id.id)]
        action["context"] = {}
        return action
