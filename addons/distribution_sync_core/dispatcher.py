# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The inbound dispatcher: received events → processing jobs.

Plain Python beside thin models, as queue_job keeps its engine (``job.py``,
``jobrunner/``) apart from its models: ``dsync.backend`` stays a
configuration record and calls :func:`dispatch`, :func:`wake` and
:func:`dispatch_apart` from its job entry points.

How a backend's events reach the job queue:

* a webhook request stores the event and wakes the backend's dispatch job
  (:func:`wake`, one pending at most: identity key), unless a job of the
  backend is sure to dispatch the event anyway (:func:`will_dispatch`);
* the dispatch job (:func:`dispatch`) queues the received events, oldest
  first, in processing jobs of up to their flow's batch size, as many jobs as
  the backend's channel has free slots (:func:`channel_capacity`,
  :func:`processing_jobs_in_flight`), in batches of even sizes
  (:func:`even_chunks`);
* every processing job dispatches again once its transaction ends
  (:func:`dispatch_apart`), so under load the jobs hand the next batch on
  without a dispatch job and the batches grow with the load.

Dispatches of one backend take turns: an advisory lock (``DISPATCH_LOCK``,
the backend's id) held until the transaction ends.
"""

import logging
import os

from psycopg2.extensions import ISOLATION_LEVEL_READ_COMMITTED

from odoo import SUPERUSER_ID, api
from odoo.sql_db import Cursor
from odoo.tools import config

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.jobrunner.channels import ChannelManager

_logger = logging.getLogger(__name__)

# Advisory lock class of a backend's inbound dispatch (second key: its id).
DISPATCH_LOCK = 0x64737964
# A started job older than this is not counted on to dispatch (a dead worker
# whose job queue_job has not requeued yet); seconds.
STALLED_JOB_SECONDS = 120
# Processing jobs a backend keeps in flight when its channel is unlimited.
UNLIMITED_SLOTS = 50
PROCESSING_METHODS = ("_dsync_run", "_dsync_run_batch")
DISPATCH_METHOD = "_dsync_dispatch_events"


def dispatch_identity_key(backend_id):
    """queue_job identity key of a backend's dispatch job."""
    return f"dsync-dispatch-{backend_id}"


def backend_channel(backend_type, backend_id):
    """queue_job channel of a backend's dispatch job, parent of its flows'."""
    return f"root.dsync.{backend_type}_{backend_id}"


def _inbound_jobs(cr, backend_type, backend_id, select, dispatcher):
    """Run ``select`` (a query with a ``{where}`` placeholder) over the
    backend's processing jobs that are due or running (pending without a
    future eta, enqueued, or started less than STALLED_JOB_SECONDS ago), and
    its dispatch job if due and not started when ``dispatcher``. One query on
    queue_job's state index."""
    channel = backend_channel(backend_type, backend_id)
    where = """state IN ('pending', 'enqueued', 'started')
               AND (channel = %(channel)s OR starts_with(channel, %(prefix)s))
               AND (eta IS NULL OR eta <= now() at time zone 'UTC'
                    OR state <> 'pending')
               AND CASE
                     WHEN method_name = ANY(%(processing)s)
                         THEN state <> 'started'
                              OR date_started > now() at time zone 'UTC'
                                                - %(stalled)s * interval '1 second'
                     WHEN method_name = %(dispatch)s
                         THEN %(dispatcher)s AND state <> 'started'
                     ELSE false
                   END"""
    cr.execute(
        select.format(where=where),
        {
            "channel": channel,
            "prefix": channel + ".",
            "processing": list(PROCESSING_METHODS),
            "stalled": STALLED_JOB_SECONDS,
            "dispatch": DISPATCH_METHOD,
            "dispatcher": dispatcher,
        },
    )
    return cr.fetchone()[0]


def processing_jobs_in_flight(cr, backend_type, backend_id):
    """How many processing jobs of the backend are due or running."""
    return _inbound_jobs(
        cr,
        backend_type,
        backend_id,
        "SELECT count(*) FROM queue_job WHERE {where}",
        False,
    )


def will_dispatch(cr, backend_type, backend_id):
    """True when a job of the backend is sure to dispatch an event committed
    before this call: a dispatch job that has not started (its scan comes
    later), or a processing job due or running (it dispatches after its own
    transaction ends, see ``dsync.event._dsync_hand_on_after``).

    Called on every accepted webhook: ``EXISTS`` stops at the first such job
    and is planned in half the time of an aggregate over the same rows."""
    return _inbound_jobs(
        cr,
        backend_type,
        backend_id,
        "SELECT EXISTS (SELECT FROM queue_job WHERE {where})",
        True,
    )


def channel_capacity(channel):
    """How many jobs queue_job's runner may run at once in ``channel``: the
    smallest capacity configured on it or its parents (ODOO_QUEUE_JOB_CHANNELS
    or ``[queue_job] channels``, read as the runner reads them, ``root:1``
    when unset). A capacity of 0 is unlimited for queue_job: UNLIMITED_SLOTS
    here."""
    spec = os.environ.get("ODOO_QUEUE_JOB_CHANNELS") or config.misc.get(
        "queue_job", {}
    ).get("channels")
    try:
        configs = ChannelManager.parse_simple_config(spec or "root:1")
    except Exception:  # noqa: BLE001 - the runner itself reports a bad setting
        return 1
    capacities = [
        conf["capacity"]
        for conf in configs
        if conf.get("capacity")
        and (channel == conf["name"] or channel.startswith(conf["name"] + "."))
    ]
    return min(capacities, default=UNLIMITED_SLOTS)


def even_chunks(items, size):
    """``items`` in the fewest chunks of at most ``size``, of even lengths
    (23 by 10 → 8, 8, 7), order kept."""
    size = max(1, size)
    count = -(-len(items) // size)
    for index in range(count):
        yield items[index * len(items) // count : (index + 1) * len(items) // count]


def inbound_slots(backend):
    """Processing jobs ``backend`` keeps due or running at most: what its
    channel (``root.dsync.<type>_<id>``, parent of its flows') may run at
    once."""
    return channel_capacity(backend_channel(backend.backend_type, backend.id))


def wake(backend):
    """Make sure a dispatch job is pending for ``backend``: the identity key
    keeps one pending at most. This is all a webhook request does after
    storing its event, and only when no job of the backend is going to
    dispatch it anyway (:func:`will_dispatch`)."""
    backend = backend.sudo()
    return (
        backend.with_user(backend.user_id)
        .with_company(backend.company_id)
        .with_context(tracking_disable=True, mail_create_nolog=True)
        .with_delay(
            channel=backend_channel(backend.backend_type, backend.id),
            identity_key=dispatch_identity_key(backend.id),
            priority=5,
            description=f"{backend.name}: dispatch received events",
        )
        ._dsync_dispatch_events()
    )


def dispatch(backend, wait=False):
    """Queue ``backend``'s received events, oldest first, in processing jobs
    of up to their flow's batch size (one job per event when the batch size
    is 1 or a single event waits), as many jobs as the backend's channel has
    free slots; return a note for the job's result.

    Events beyond the free slots stay received: a job due or running will
    dispatch them when it ends. With ``wait`` this dispatch waits for its
    turn (a read-committed transaction, whose scan then sees the other's
    commit); without, a dispatch job finding another dispatch under way
    comes back in a second rather than scan an older snapshot."""
    backend.ensure_one()
    env = backend.env
    env.flush_all()
    cr = env.cr
    lock = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    cr.execute(f"SELECT {lock}(%s, %s)", (DISPATCH_LOCK, backend.id))
    if not wait and not cr.fetchone()[0]:
        raise RetryableJobError(
            "another dispatch of this backend is under way",
            seconds=1,
            ignore_retry=True,
        )
    busy = processing_jobs_in_flight(cr, backend.backend_type, backend.id)
    free = backend._dsync_inbound_slots() - busy
    if free <= 0:
        return f"{busy} processing jobs in flight: nothing queued"
    sizes = [f.batch_size for f in backend._all_flows() if f.direction == "in"]
    cr.execute(
        """SELECT id FROM dsync_event
            WHERE backend_id = %s AND state = 'received'
            ORDER BY id
            LIMIT %s
            FOR NO KEY UPDATE SKIP LOCKED""",
        (backend.id, free * max(sizes, default=1)),
    )
    events = env["dsync.event"].sudo().browse(r[0] for r in cr.fetchall())
    by_flow = {}
    for event in events:
        flow = backend._dsync_flow_for_topic(event.topic)
        by_flow.setdefault(flow, []).append(event.id)
    queued = 0
    for flow, ids in by_flow.items():  # in the order of their oldest event
        for chunk in even_chunks(ids[: free * flow.batch_size], flow.batch_size):
            batch = events.browse(chunk)
            if len(batch) == 1:
                batch._dsync_delay()
            else:
                batch._dsync_delay_batch(flow)
            queued += len(batch)
            free -= 1
        if free <= 0:
            break
    return f"{queued} events queued"


def dispatch_apart(backend):
    """:func:`dispatch` (waiting for its turn) in a read-committed
    transaction of its own, committed; errors are logged (the safety cron
    dispatches what is left)."""
    backend.ensure_one()
    backend_id = backend.id
    try:
        with backend.env.registry.cursor() as cr:
            if isinstance(cr, Cursor):  # not a test cursor sharing a transaction
                cr.connection.set_isolation_level(ISOLATION_LEVEL_READ_COMMITTED)
            fresh = api.Environment(cr, SUPERUSER_ID, {})[backend._name].browse(
                backend_id
            )
            if fresh.exists():
                fresh._dsync_dispatch_events(wait=True)
    except Exception:
        _logger.exception(
            "backend %s: received events not queued (the safety cron will)",
            backend_id,
        )
