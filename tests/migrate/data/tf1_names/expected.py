"""TF1 names that `import tensorflow as tf` lost in TF 2.x, and forms the tool reports instead."""
import tensorflow.compat.v1 as tf  # the TF1 API
import estimator_lib
import tensorflow

flags = tf.flags
flags.DEFINE_integer("steps", 10, "training steps")


def model(x, is_training):
    width = tf.dimension_value(x.shape[-1])
    depth = tf.dimension_value(x.get_shape()[1])
    h = estimator_lib.layers.dense(x, width, name="hidden")
    h = estimator_lib.layers.batch_normalization(h, training=is_training)
    h = estimator_lib.layers.layer_norm(h, begin_norm_axis=-1, begin_params_axis=-1)
    h = tf.nn.dropout(h, 0.9)  # keep_prob under the TF1 API
    return tf.layers.conv3d(h, depth, 3)


def data(path):
    with tf.gfile.GFile(path) as handle:
        tf.logging.info("reading %s", handle.name)
    return tf.data.TFRecordDataset(path).apply(tf.data.experimental.map_and_batch(len, 4)).prefetch(
        tf.data.experimental.AUTOTUNE)


def plain():
    return tensorflow.gfile.Exists("/tmp")


if __name__ == "__main__":
    tf.app.run()
