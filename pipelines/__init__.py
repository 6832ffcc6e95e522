"""Vertex AI / kfp.local pipelines over the estimator components, and the `estimator-pipelines` CLI."""
