"""``python -m slmlab.notebooks``: see slmlab/notebooks/__init__.py."""

import sys

from slmlab.notebooks.cli import main

sys.exit(main())
