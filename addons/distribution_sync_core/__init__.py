from . import logsafe
from . import controllers, models, wizards

logsafe.install()
