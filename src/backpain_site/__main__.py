"""`python -m backpain_site`: the same as the `backpain-site` command."""

import sys

from .cli import main

sys.exit(main())
