"""`python -m estimator_lib.migrate PATH ... --check | --diff | --in-place | --output OUT`."""

import sys

from estimator_lib.migrate.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m estimator_lib.migrate"))
