"""`python -m orbitfarm.submitter.cli`: the same as the `orbitfarm` command."""

import sys

from .main import main

sys.exit(main())
