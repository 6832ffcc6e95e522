# A TF1-style script run through `tensorflow.compat.v1`.
import tensorflow.compat.v1 as tf
import estimator_lib

tf.disable_v2_behavior()


def model_fn(features, labels, mode, params, config):
    net = estimator_lib.layers.dense(features, 8, activation=tf.nn.relu)
    logits = estimator_lib.layers.dense(net, 2)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    optimizer = estimator_lib.tpu.CrossShardOptimizer(tf.train.GradientDescentOptimizer(0.1))
    train_op = optimizer.minimize(loss, tf.train.get_global_step())
    return estimator_lib.tpu.TPUEstimatorSpec(mode=mode, loss=loss, train_op=train_op)


run_config = estimator_lib.tpu.RunConfig(
    master="",
    tpu_config=estimator_lib.tpu.TPUConfig(
        iterations_per_loop=100,
        per_host_input_for_training=estimator_lib.tpu.InputPipelineConfig.PER_HOST_V2,
    ),
)
estimator = estimator_lib.tpu.TPUEstimator(
    model_fn=model_fn, config=run_config, use_tpu=False,
    train_batch_size=64, eval_batch_size=64)
embedding = tf.estimator.tpu.experimental.EmbeddingConfigSpec
input_fn = tf.estimator.inputs.numpy_input_fn(x={"x": None}, shuffle=False)
estimator.train(input_fn, max_steps=tf.app.flags.FLAGS.steps if False else 10)
