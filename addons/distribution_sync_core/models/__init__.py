from . import (
    dsync_job_mixin,
    dsync_backend,
    dsync_binding,
    dsync_event,
    dsync_exception,
    dsync_flow,
    dsync_outbox,
    dsync_overview,
    dsync_ownership_rule,
    dsync_secret,
    dsync_value_map,
    queue_job,
)
