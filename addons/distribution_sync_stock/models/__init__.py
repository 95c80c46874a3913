from . import dsync_value_map
from . import dsync_exception
from . import stock_picking
