from . import test_webhook
from . import test_platform
from . import test_labels
from . import test_tracking
