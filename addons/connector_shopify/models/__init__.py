from . import dsync_backend
from . import shopify_order
from . import shopify_outbound
