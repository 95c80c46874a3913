from . import test_product_fix
