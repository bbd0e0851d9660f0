"""`python -m hpo_operator.cli`: the `hpo-operator` command without its console script."""

import sys

from hpo_operator.cli import main

sys.exit(main())
