"""`estimator-pipelines tpu-smoke`: check a TPU VM before a long job, stage by stage.

Stages, each in its own subprocess with a timeout (libtpu allows one process per host, and a crash in
one stage must not hide the next), each printing one JSON line:
  environment  TF, libtpu, accelerator, TPU environment variables
  eager        initialize_tpu_system, TPU devices, a TPUStrategy.run sum in a tf.function
  graph        Session('') running tpu.replicate of cross_replica_sum(1.0) on every core
  library      TPUEstimator(use_tpu=True): train K=4 to step 9 with a host_call, evaluate, predict
The last three run with the PJRT variables off and on. `--here` runs them on this machine; otherwise
the command builds (and with `--submit` submits) a Vertex CustomJob that runs `--here` on a TPU VM.
"""
