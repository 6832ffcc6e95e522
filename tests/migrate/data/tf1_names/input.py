"""TF1 names that `import tensorflow as tf` lost in TF 2.x, and forms the tool reports instead."""
import tensorflow as tf  # the TF1 API
import tensorflow

flags = tf.flags
flags.DEFINE_integer("steps", 10, "training steps")


def model(x, is_training):
    width = x.shape[-1].value
    depth = x.get_shape()[1].value
    h = tf.layers.dense(x, width, name="hidden")
    h = tf.layers.batch_normalization(h, training=is_training)
    h = tf.contrib.layers.layer_norm(h, begin_norm_axis=-1, begin_params_axis=-1)
    h = tf.nn.dropout(h, 0.9)  # keep_prob under the TF1 API
    return tf.layers.conv3d(h, depth, 3)


def data(path):
    with tf.gfile.GFile(path) as handle:
        tf.logging.info("reading %s", handle.name)
    return tf.data.TFRecordDataset(path).apply(tf.contrib.data.map_and_batch(len, 4)).prefetch(
        tf.contrib.data.AUTOTUNE)


def plain():
    return tensorflow.gfile.Exists("/tmp")


if __name__ == "__main__":
    tf.app.run()
