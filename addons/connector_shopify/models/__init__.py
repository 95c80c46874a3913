from . import dsync_backend
