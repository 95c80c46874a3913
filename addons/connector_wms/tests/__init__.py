from . import (
    test_contract,
    test_files,
    test_release,
    test_shipment,
    test_stock_events,
    test_webhook,
)
