from . import test_webhook
from . import test_order_import
from . import test_outbound
from . import test_fulfillment_events
