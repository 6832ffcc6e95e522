"""Kubeflow Pipelines (KFP v2) components over `estimator_lib`.

One folder per component: `component.py` is the KFP declaration (a lightweight Python component whose
body only imports and calls the task), `task.py` is the plain Python work, unit-tested without KFP.
"""
