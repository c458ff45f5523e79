"""`python -m aiayn ...` (what torchrun runs) is the same as the `aiayn` command."""

import sys

from aiayn.cli import main

sys.exit(main())
