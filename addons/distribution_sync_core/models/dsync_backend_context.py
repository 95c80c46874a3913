# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What a backend tells people: the business context of its events, the
words for its topics, and what its configuration still lacks. Each answer
comes from the connector, by convention (``_<type>_event_context``,
``_<type>_topic_labels``, ``_<type>_config_warnings``)."""

from markupsafe import Markup

from odoo import _, api, fields, models

from .dsync_exception import OPEN_STATES


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    config_warning = fields.Html(
        "Configuration Warnings", compute="_compute_config_warning", sanitize=False
    )

    def _dsync_event_context(self, event, data):
        """Business context of ``event`` (``data``: its payload as JSON),
        from the connector's ``_<type>_event_context(event, data)``: a dict
        of the keys listed in ``dsync_business_context.CONTEXT_KEYS``."""
        self.ensure_one()
        method = getattr(self, f"_{self.backend_type}_event_context", None)
        return method(event, data) if method else {}

    def _dsync_topic_label(self, topic):
        """``topic`` in a person's words (``_<type>_topic_labels()``: a dict
        topic → label), else the topic itself."""
        if not self:
            return topic or ""
        self.ensure_one()
        method = getattr(self, f"_{self.backend_type}_topic_labels", None)
        labels = method() if method else {}
        return str(labels.get(topic) or topic or "")

    @api.depends("backend_type")
    def _compute_config_warning(self):
        for backend in self:
            warnings = backend._dsync_config_warnings() if backend.id else []
            backend.config_warning = (
                Markup("<ul class='mb-0'>%s</ul>")
                % Markup("").join(Markup("<li>%s</li>") % w for w in warnings)
                if warnings
                else False
            )

    def _dsync_config_warnings(self):
        """What this backend lacks for its flows to work, in plain words:
        the core's checks, then the connector's (``_<type>_config_warnings``,
        a list of sentences)."""
        self.ensure_one()
        warnings = []
        if self.active and self._dsync_webhook_path() and not self.webhook_secret_set:
            warnings.append(
                _(
                    "No webhook secret: every delivery from the platform is "
                    "refused until it is set (Secrets)."
                )
            )
        refused = self.env["dsync.exception"].search_count(
            [
                ("backend_id", "=", self.id),
                ("category", "=", "security"),
                ("state", "in", OPEN_STATES),
            ]
        )
        if refused:
            warnings.append(
                _(
                    "Deliveries are being refused for a bad signature: see the "
                    "open exception for IT (the webhook secret may differ from "
                    "the platform's)."
                )
            )
        method = getattr(self, f"_{self.backend_type}_config_warnings", None)
        if method:
            warnings += method()
        return warnings
