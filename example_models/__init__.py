"""Example models shipped with the project (used by the README, the pipeline's main job and the tests)."""
