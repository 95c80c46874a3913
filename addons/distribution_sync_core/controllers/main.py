# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import logging

from werkzeug.wrappers import Response

from odoo import http
from odoo.http import request

_logger = logging.getLogger(__name__)


class DsyncHealthController(http.Controller):
    @http.route("/dsync/health", type="http", auth="none", methods=["GET"], csrf=False)
    def health(self):
        """Up/down and queue depth for monitoring; no business data."""
        body = {"status": "ok", "queue_depth": None}
        status = 200
        try:
            if not request.db:
                raise RuntimeError("no database selected")
            cr = request.env.cr
            cr.execute(
                """SELECT count(*) FROM queue_job
                    WHERE state IN ('pending', 'enqueued', 'started')
                      AND channel LIKE 'root.dsync.%%'"""
            )
            body["queue_depth"] = cr.fetchone()[0]
        except Exception:
            _logger.exception("health check failed")
            body = {"status": "down"}
            status = 503
        return Response(
            json.dumps(body), status=status, content_type="application/json"
        )
