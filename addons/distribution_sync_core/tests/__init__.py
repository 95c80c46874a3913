from . import (
    test_business_context,
    test_concurrency,
    test_intake_helpers,
    test_outbox,
    test_pipeline,
    test_reconciliation,
    test_retention,
    test_security,
    test_sequence,
    test_ui,
)
