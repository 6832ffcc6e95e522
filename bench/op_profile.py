"""Where one training step's time goes inside TensorFlow: a traced `session.run`, summed by op type.

    python -m bench.op_profile [--model cnn] [--runs 30] [--jit]
    .venvs/tf215-bench/bin/python -m bench.op_profile --model cnn      # the same on TF 2.15

Builds the benchmark's Estimator-style training graph (as `bench.session_costs` does), warms it up,
then runs `runs` steps with `RunOptions(trace_level=FULL_TRACE)` (what `ProfilerHook` requests) and
sums each node's execution time by op type. `--jit` wraps the model_fn in the same XLA scope as
`RunConfig(jit_compile=True)` (TF 2.21 only). Traced runs are slower than untraced ones; read the
shares, not the absolute figures.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="cnn")
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--jit", action="store_true")
    args = p.parse_args(argv)
    import contextlib

    import tensorflow as tf

    from bench import models
    from bench.session_costs import _SpecApi

    v1 = tf.compat.v1
    cfg = models.get_config(args.model)
    graph = tf.Graph()
    with graph.as_default():
        v1.train.get_or_create_global_step()
        features, labels = v1.data.make_one_shot_iterator(models.make_dataset(cfg)).get_next()
        scope = tf.xla.experimental.jit_scope(compile_ops=True, separate_compiled_gradients=False) if args.jit \
            else contextlib.nullcontext()
        with scope:
            spec = models.make_model_fn(cfg, _SpecApi, tpu=False)(features, labels, "train", {})
        init = v1.global_variables_initializer()
    graph.finalize()
    op_type = {op.name: op.type for op in graph.get_operations()}
    with v1.Session(graph=graph) as sess:
        sess.run(init)
        for _ in range(20):
            sess.run(spec["train_op"])
        t0, c0, n = time.perf_counter(), time.process_time(), 200 if args.model == "mlp" else 30
        for _ in range(n):
            sess.run(spec["train_op"])
        wall, cpu = (time.perf_counter() - t0) / n, (time.process_time() - c0) / n
        by_type: collections.Counter = collections.Counter()
        options = v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE)
        for _ in range(args.runs):
            metadata = v1.RunMetadata()
            sess.run(spec["train_op"], options=options, run_metadata=metadata)
            for device in metadata.step_stats.dev_stats:
                for node in device.node_stats:
                    name = node.node_name.split(":")[0]
                    kind = op_type.get(name, "XLA cluster / runtime" if "cluster" in name else "(runtime)")
                    by_type[kind] += node.all_end_rel_micros
    total = sum(by_type.values())
    print(f"TF {tf.__version__}, {args.model}{' + XLA' if args.jit else ''}: untraced step {wall * 1e3:.2f} ms wall, "
          f"{cpu * 1e3:.2f} ms CPU (load {os.getloadavg()[0]:.1f}); traced op time by type over {args.runs} runs:")
    for kind, micros in by_type.most_common(args.top):
        print(f"  {kind:32s} {micros / args.runs:9.1f} us/step  {100 * micros / total:5.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
