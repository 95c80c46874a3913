from . import dsync_backend
from . import carrier_label_flow
from . import carrier_tracking
from . import dsync_carrier_label
from . import dsync_carrier_shipment
from . import delivery_carrier
from . import stock_package_type
from . import stock_picking
