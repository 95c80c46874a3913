# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models


class DsyncBinding(models.Model):
    """External id of a platform ↔ Odoo record, per backend."""

    _name = "dsync.binding"
    _description = "Sync Binding"
    _order = "backend_id, res_model, external_id"
    _rec_name = "external_id"

    backend_id = fields.Many2one(
        "dsync.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    res_model = fields.Char("Odoo Model", required=True, index=True)
    res_id = fields.Many2oneReference(
        "Odoo Record", model_field="res_model", index=True
    )
    external_id = fields.Char(required=True)
    external_version = fields.Char(
        help="Version or updated_at of the last external state applied."
    )
    external_updated_at = fields.Datetime(
        help="Source timestamp of the last applied change (staleness check)."
    )
    last_event_id = fields.Many2one("dsync.event", ondelete="set null")
    record_name = fields.Char(compute="_compute_record_name")

    _sql_constraints = [
        (
            "external_unique",
            "unique(backend_id, res_model, external_id)",
            "An external id is bound once per backend and model.",
        )
    ]

    @api.depends("res_model", "res_id")
    def _compute_record_name(self):
        for binding in self:
            record = (
                self.env[binding.res_model].browse(binding.res_id).exists()
                if binding.res_model in self.env and binding.res_id
                else None
            )
            binding.record_name = record.display_name if record else False

    @api.model
    def _find_many(self, backend, res_model, external_ids):
        """The bindings of ``res_model`` to any of ``external_ids``."""
        return self.search(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", res_model),
                ("external_id", "in", [str(ext) for ext in external_ids]),
            ]
        )

    @api.model
    def _find(self, backend, res_model, external_id):
        return self._find_many(backend, res_model, [external_id])[:1]

    @api.model
    def _find_record(self, backend, res_model, external_id):
        binding = self._find(backend, res_model, external_id)
        return self.env[res_model].browse(binding.res_id).exists() if binding else None

    @api.model
    def _bind(
        self, backend, record, external_id, updated_at=None, version=None, event=None
    ):
        """Create or refresh the binding of ``record`` to ``external_id``."""
        vals = {}
        if updated_at:
            vals["external_updated_at"] = updated_at
        if version:
            vals["external_version"] = version
        if event:
            vals["last_event_id"] = event.id
        return self._bind_many(backend, record._name, [(external_id, record, vals)])

    @api.model
    def _bind_many(self, backend, res_model, entries):
        """Create or refresh many bindings of ``res_model`` at once: one
        search, a write per binding that exists (a binding left by a deleted
        record is pointed at the new one), one create for the others.

        :param entries: ``(external_id, record, values)``, the values among
            ``external_updated_at``, ``external_version``, ``last_event_id``
        """
        existing = {
            binding.external_id: binding
            for binding in self._find_many(
                backend, res_model, [ext for ext, _record, _vals in entries]
            )
        }
        bindings, new = self.browse(), []
        for external_id, record, vals in entries:
            vals = dict(vals, res_id=record.id)
            binding = existing.get(str(external_id))
            if binding:
                binding.write(vals)
                bindings |= binding
            else:
                vals.update(
                    backend_id=backend.id,
                    res_model=res_model,
                    external_id=str(external_id),
                )
                new.append(vals)
        return bindings | self.create(new)

    def _is_stale(self, updated_at):
        """True when ``updated_at`` is older than what this binding applied."""
        self.ensure_one()
        return bool(
            updated_at
            and self.external_updated_at
            and updated_at < self.external_updated_at
        )

    def action_open_record(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }
