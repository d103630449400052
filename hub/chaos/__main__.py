"""``python -m hub.chaos``: see :mod:`hub.chaos.run`."""

import sys

from hub.chaos.run import main

sys.exit(main())
