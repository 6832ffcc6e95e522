"""One import namespace for the Kubeflow components, the pipelines and the example models.

The wheel installs the repository's `components/`, `pipelines/` and `example_models/` folders as
`estimator_kfp.components`, `estimator_kfp.pipelines` and `estimator_kfp.example_models` (setuptools
package-dir mapping in pyproject.toml), so they never collide with a user's own `components/` or
`pipelines/` packages. In a source checkout the folders sit next to this one; extending the package path
to the repository root gives them the same names there.
"""

import os

_HERE = os.path.dirname(os.path.abspath(__file__))
if not os.path.isdir(os.path.join(_HERE, "components")):
    __path__.append(os.path.dirname(_HERE))  # noqa: F821 - a package's __path__
