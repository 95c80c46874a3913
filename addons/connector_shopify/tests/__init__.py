from . import test_webhook
from . import test_order_import
from . import test_outbound
from . import test_business_context
from . import test_config
from . import test_tours
from . import test_fulfillment_events
