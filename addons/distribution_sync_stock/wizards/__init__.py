from . import dsync_product_fix
