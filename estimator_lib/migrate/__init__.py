"""The upgrade tool: rewrites tf.estimator / TPUEstimator code to estimator_lib names (libcst, no TensorFlow).

Entry points: `estimator_lib.migrate.cli:main` (the `upgrade` command) and `upgrade_source` for one text.
The old-name -> new-name table lives in `estimator_lib.migrate.mapping`.
"""

from estimator_lib.migrate.report import Change, FileResult, Unmapped
from estimator_lib.migrate.rewrite import UpgradeError, upgrade_source

__all__ = ["Change", "FileResult", "Unmapped", "UpgradeError", "upgrade_source"]
