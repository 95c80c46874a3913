from . import wms_file_import
