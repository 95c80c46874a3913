# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from werkzeug.wrappers import Response

from odoo import http


class BenchBaseline(http.Controller):
    """Same route options as the webhook routes, no work: Odoo's own cost."""

    @http.route(
        "/dsync_bench/bare",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def bare(self, **_kw):
        return Response('{"status": "ok"}', status=200, content_type="application/json")
