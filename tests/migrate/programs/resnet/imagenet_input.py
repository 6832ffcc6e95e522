# An input pipeline written the way tensorflow/tpu's models/official/resnet/imagenet_input.py is written
# (shards its source by host through params['context'].current_input_fn_deployment() when TPUEstimator
# passes a context), on tiny synthetic images. Test data for `estimator-pipelines upgrade`: do not modernise.
"""Efficient ImageNet-style input pipeline (test program)."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import abc
import functools

import numpy as np
import tensorflow as tf

IMAGE_SIZE = 8
NUM_CLASSES = 4


class ImageNetTFExampleInput(object):
  """Base class: parses serialized tf.Examples, batches them with a static batch size."""
  __metaclass__ = abc.ABCMeta

  def __init__(self, is_training, num_parallel_calls=2):
    self.is_training = is_training
    self.num_parallel_calls = num_parallel_calls

  def set_shapes(self, batch_size, images, labels):
    images.set_shape(images.get_shape().merge_with(tf.TensorShape([batch_size, None, None, None])))
    labels.set_shape(labels.get_shape().merge_with(tf.TensorShape([batch_size])))
    return images, labels

  def dataset_parser(self, value):
    keys_to_features = {
        "image/encoded": tf.FixedLenFeature((), tf.string, ""),
        "image/class/label": tf.FixedLenFeature([], tf.int64, -1),
    }
    parsed = tf.parse_single_example(value, keys_to_features)
    image = tf.decode_raw(parsed["image/encoded"], tf.uint8)
    image = tf.reshape(tf.cast(image, tf.float32) / 255.0, [IMAGE_SIZE, IMAGE_SIZE, 3])
    label = tf.cast(tf.reshape(parsed["image/class/label"], shape=[]), dtype=tf.int32)
    return image, label

  @abc.abstractmethod
  def make_source_dataset(self, index, num_hosts):
    return

  def input_fn(self, params):
    batch_size = params["batch_size"]

    if "context" in params:
      current_host = params["context"].current_input_fn_deployment()[1]
      num_hosts = params["context"].num_hosts
    else:
      current_host = 0
      num_hosts = 1

    dataset = self.make_source_dataset(current_host, num_hosts)
    dataset = dataset.apply(
        tf.contrib.data.map_and_batch(
            self.dataset_parser,
            batch_size=batch_size,
            num_parallel_batches=self.num_parallel_calls,
            drop_remainder=True))
    dataset = dataset.map(functools.partial(self.set_shapes, batch_size))
    dataset = dataset.prefetch(tf.contrib.data.AUTOTUNE)
    return dataset


class ImageNetInput(ImageNetTFExampleInput):
  """Synthetic records: the class decides the mean brightness of the image."""

  def __init__(self, is_training, num_examples=64):
    super(ImageNetInput, self).__init__(is_training=is_training)
    self.num_examples = num_examples

  def records(self):
    rng = np.random.RandomState(0)
    out = []
    for i in range(self.num_examples):
      label = i % NUM_CLASSES
      pixels = np.clip(rng.normal(40 + 50 * label, 20, size=(IMAGE_SIZE, IMAGE_SIZE, 3)), 0, 255)
      feature = {
          "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[pixels.astype(np.uint8).tobytes()])),
          "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
      }
      out.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return out

  def make_source_dataset(self, index, num_hosts):
    dataset = tf.data.Dataset.from_tensor_slices(self.records())
    dataset = dataset.shard(num_hosts, index)
    if self.is_training:
      dataset = dataset.repeat()
    return dataset
