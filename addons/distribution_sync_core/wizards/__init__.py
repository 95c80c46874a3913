from . import dsync_exception_ignore
