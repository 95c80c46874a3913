from . import test_milestones
