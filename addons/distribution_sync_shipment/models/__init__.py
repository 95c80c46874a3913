from . import dsync_shipment_milestone
from . import dsync_shipment_notification
from . import stock_picking
from . import stock_quant_package
