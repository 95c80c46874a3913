from . import test_concurrency
from . import test_intake_helpers
from . import test_outbox
from . import test_pipeline
from . import test_retention
from . import test_security
from . import test_ui
