# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``type="dsync_webhook"`` routes: the raw body is the controller's.

Odoo's ``type="http"`` dispatcher reads form bodies
(``application/x-www-form-urlencoded``, ``multipart/form-data``) into
parameters before the controller runs, and the raw bytes a platform signed
are then gone: a correctly signed body sent with such a content type could
neither be verified nor kept. Webhook routes use this dispatcher instead:
it is Odoo's HTTP dispatcher without the body parsing, so the intake reads
the body itself, whatever its content type, within its size limit.
"""

from odoo import http


class WebhookDispatcher(http.HttpDispatcher):
    routing_type = "dsync_webhook"

    @classmethod
    def is_compatible_with(cls, request):
        return True

    def dispatch(self, endpoint, args):
        # the route's own arguments only: the query string and the body are
        # not parameters of a webhook
        self.request.params = dict(args)
        if self.request.db:
            result = self.request.registry["ir.http"]._dispatch(endpoint)
        else:
            result = endpoint(**self.request.params)
        return http.Response.load(result)
