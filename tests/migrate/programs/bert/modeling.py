# A tiny BERT-style encoder written the way google-research/bert's modeling.py is written (TensorFlow 1.x:
# `import tensorflow as tf`, tf.layers.dense, tf.contrib.layers.layer_norm, tf.get_variable), so that its
# variables carry BERT checkpoint names. Test data for `estimator-pipelines upgrade`: do not modernise.
"""Tiny BERT-style model (test program)."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import json
import re

import tensorflow as tf


class BertConfig(object):
  """Hyperparameters of the encoder."""

  def __init__(self, vocab_size, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
               intermediate_size=16, hidden_dropout_prob=0.1, max_position_embeddings=16,
               type_vocab_size=2, initializer_range=0.02):
    self.vocab_size = vocab_size
    self.hidden_size = hidden_size
    self.num_hidden_layers = num_hidden_layers
    self.num_attention_heads = num_attention_heads
    self.intermediate_size = intermediate_size
    self.hidden_dropout_prob = hidden_dropout_prob
    self.max_position_embeddings = max_position_embeddings
    self.type_vocab_size = type_vocab_size
    self.initializer_range = initializer_range

  @classmethod
  def from_json_file(cls, json_file):
    with tf.gfile.GFile(json_file, "r") as reader:
      return cls(**json.loads(reader.read()))


def create_initializer(initializer_range=0.02):
  return tf.truncated_normal_initializer(stddev=initializer_range)


def layer_norm(input_tensor, name=None):
  return tf.contrib.layers.layer_norm(
      inputs=input_tensor, begin_norm_axis=-1, begin_params_axis=-1, scope=name)


def dropout(input_tensor, dropout_prob):
  if dropout_prob is None or dropout_prob == 0.0:
    return input_tensor
  # TF1 signature: the second argument is keep_prob.
  return tf.nn.dropout(input_tensor, 1.0 - dropout_prob)


class BertModel(object):
  """Embeddings, one or more self-attention layers and a pooler, under variable scope "bert"."""

  def __init__(self, config, is_training, input_ids, input_mask, token_type_ids, scope=None):
    if not is_training:
      config.hidden_dropout_prob = 0.0
    batch_size, seq_length = input_ids.shape.as_list()
    width = config.hidden_size
    with tf.variable_scope(scope, default_name="bert"):
      with tf.variable_scope("embeddings"):
        word_table = tf.get_variable(
            "word_embeddings", [config.vocab_size, width],
            initializer=create_initializer(config.initializer_range))
        output = tf.gather(word_table, input_ids)
        type_table = tf.get_variable(
            "token_type_embeddings", [config.type_vocab_size, width],
            initializer=create_initializer(config.initializer_range))
        output += tf.gather(type_table, token_type_ids)
        position_table = tf.get_variable(
            "position_embeddings", [config.max_position_embeddings, width],
            initializer=create_initializer(config.initializer_range))
        output += tf.expand_dims(tf.slice(position_table, [0, 0], [seq_length, -1]), 0)
        output = dropout(layer_norm(output), config.hidden_dropout_prob)

      mask = tf.cast(tf.expand_dims(input_mask, 1), tf.float32)  # [batch, 1, seq]
      with tf.variable_scope("encoder"):
        flat = tf.reshape(output, [-1, width])
        for layer_idx in range(config.num_hidden_layers):
          with tf.variable_scope("layer_%d" % layer_idx):
            flat = self._layer(config, flat, mask, batch_size, seq_length)
        self.sequence_output = tf.reshape(flat, [batch_size, seq_length, width])

      with tf.variable_scope("pooler"):
        first_token = tf.squeeze(self.sequence_output[:, 0:1, :], axis=1)
        self.pooled_output = tf.layers.dense(
            first_token, width, activation=tf.tanh,
            kernel_initializer=create_initializer(config.initializer_range))

  def _layer(self, config, flat, mask, batch_size, seq_length):
    heads = config.num_attention_heads
    size = config.hidden_size // heads
    init = create_initializer(config.initializer_range)
    with tf.variable_scope("attention"):
      with tf.variable_scope("self"):
        query = tf.layers.dense(flat, heads * size, name="query", kernel_initializer=init)
        key = tf.layers.dense(flat, heads * size, name="key", kernel_initializer=init)
        value = tf.layers.dense(flat, heads * size, name="value", kernel_initializer=init)

        def split(t):
          return tf.transpose(tf.reshape(t, [batch_size, seq_length, heads, size]), [0, 2, 1, 3])

        scores = tf.matmul(split(query), split(key), transpose_b=True) * (1.0 / float(size) ** 0.5)
        scores += (1.0 - tf.expand_dims(mask, 1)) * -10000.0
        context = tf.matmul(tf.nn.softmax(scores), split(value))
        context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [-1, heads * size])
      with tf.variable_scope("output"):
        attention = tf.layers.dense(context, config.hidden_size, kernel_initializer=init)
        attention = layer_norm(dropout(attention, config.hidden_dropout_prob) + flat)
    with tf.variable_scope("intermediate"):
      intermediate = tf.layers.dense(attention, config.intermediate_size, activation=tf.nn.relu,
                                     kernel_initializer=init)
    with tf.variable_scope("output"):
      output = tf.layers.dense(intermediate, config.hidden_size, kernel_initializer=init)
      return layer_norm(dropout(output, config.hidden_dropout_prob) + attention)

  def get_pooled_output(self):
    return self.pooled_output


def get_assignment_map_from_checkpoint(tvars, init_checkpoint):
  """Maps every trainable variable that the checkpoint holds under the same name onto itself."""
  names = collections.OrderedDict()
  for var in tvars:
    match = re.match("^(.*):\\d+$", var.name)
    names[match.group(1) if match else var.name] = var
  assignment_map = collections.OrderedDict()
  initialized_variable_names = {}
  for name, _ in tf.train.list_variables(init_checkpoint):
    if name in names:
      assignment_map[name] = name
      initialized_variable_names[name] = 1
      initialized_variable_names[name + ":0"] = 1
  return assignment_map, initialized_variable_names
