from . import (
    dsync_backend,
    stock_picking,
    stock_move,
    stock_quant_package,
    wms_release,
    wms_shipment,
    wms_order_status,
    wms_return,
    wms_inventory,
    wms_file,
)
