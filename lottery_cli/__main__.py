"""``python -m lottery_cli``: the ``lottery`` console script."""

import sys

from lottery_cli.main import main

sys.exit(main())
