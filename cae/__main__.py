"""`python -m cae` runs the command line, so `torchrun -m cae train ...` can launch it."""

import sys

from cae.cli import main

sys.exit(main())
