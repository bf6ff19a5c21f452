"""``python -m groupify.cli``: the ``groupify`` command."""

import sys

from groupify.cli import main

sys.exit(main())
