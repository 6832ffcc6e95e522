# A BERT-style fine-tuning script written the way google-research/bert's run_classifier.py is written
# (TensorFlow 1.x: tf.flags, tf.contrib.tpu.TPUEstimator, init_checkpoint through scaffold_fn on TPU,
# CrossShardOptimizer, tf.contrib.data.map_and_batch, Dimension.value). Synthetic data. Test data for
# `estimator-pipelines upgrade`: do not modernise.
"""Tiny BERT-style classifier fine-tuning (test program)."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import os

import numpy as np
import modeling
import tensorflow as tf

flags = tf.flags

FLAGS = flags.FLAGS

flags.DEFINE_string("bert_config_file", None, "The config json file of the pre-trained BERT model.")
flags.DEFINE_string("output_dir", None, "The output directory where checkpoints are written.")
flags.DEFINE_string("init_checkpoint", None, "Initial checkpoint (usually from a pre-trained BERT model).")
flags.DEFINE_integer("max_seq_length", 8, "Sequence length.")
flags.DEFINE_integer("train_batch_size", 8, "Total batch size for training.")
flags.DEFINE_integer("num_train_steps", 4, "Training steps.")
flags.DEFINE_float("learning_rate", 5e-5, "The initial learning rate for Adam.")
flags.DEFINE_integer("iterations_per_loop", 1000, "How many steps to make in each estimator call.")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "How often to save the model checkpoint.")
flags.DEFINE_bool("use_tpu", False, "Whether to use TPU or GPU/CPU.")
flags.DEFINE_string("master", None, "[Optional] TensorFlow master URL.")
flags.DEFINE_integer("num_tpu_cores", 8, "Only used if `use_tpu` is True.")

NUM_LABELS = 2


def write_synthetic_examples(path, count, seq_length, vocab_size):
  rng = np.random.RandomState(0)
  writer = tf.python_io.TFRecordWriter(path)
  for _ in range(count):
    ids = rng.randint(1, vocab_size, size=seq_length)
    features = {
        "input_ids": tf.train.Feature(int64_list=tf.train.Int64List(value=list(ids))),
        "input_mask": tf.train.Feature(int64_list=tf.train.Int64List(value=[1] * seq_length)),
        "segment_ids": tf.train.Feature(int64_list=tf.train.Int64List(value=[0] * seq_length)),
        "label_ids": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(ids[0] % NUM_LABELS)])),
    }
    writer.write(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())
  writer.close()


def file_based_input_fn_builder(input_file, seq_length, is_training, drop_remainder):
  name_to_features = {
      "input_ids": tf.FixedLenFeature([seq_length], tf.int64),
      "input_mask": tf.FixedLenFeature([seq_length], tf.int64),
      "segment_ids": tf.FixedLenFeature([seq_length], tf.int64),
      "label_ids": tf.FixedLenFeature([], tf.int64),
  }

  def _decode_record(record, name_to_features):
    example = tf.parse_single_example(record, name_to_features)
    for name in list(example.keys()):
      example[name] = tf.to_int32(example[name])
    return example

  def input_fn(params):
    batch_size = params["batch_size"]
    d = tf.data.TFRecordDataset(input_file)
    if is_training:
      d = d.repeat()
      d = d.shuffle(buffer_size=16, seed=1)
    d = d.apply(
        tf.contrib.data.map_and_batch(
            lambda record: _decode_record(record, name_to_features),
            batch_size=batch_size,
            drop_remainder=drop_remainder))
    return d

  return input_fn


def create_model(bert_config, is_training, input_ids, input_mask, segment_ids, labels, num_labels):
  model = modeling.BertModel(
      config=bert_config, is_training=is_training, input_ids=input_ids, input_mask=input_mask,
      token_type_ids=segment_ids)
  output_layer = model.get_pooled_output()
  hidden_size = output_layer.shape[-1].value
  output_weights = tf.get_variable(
      "output_weights", [num_labels, hidden_size], initializer=tf.truncated_normal_initializer(stddev=0.02))
  output_bias = tf.get_variable("output_bias", [num_labels], initializer=tf.zeros_initializer())
  with tf.variable_scope("loss"):
    if is_training:
      output_layer = tf.nn.dropout(output_layer, keep_prob=0.9)
    logits = tf.nn.bias_add(tf.matmul(output_layer, output_weights, transpose_b=True), output_bias)
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    one_hot_labels = tf.one_hot(labels, depth=num_labels, dtype=tf.float32)
    per_example_loss = -tf.reduce_sum(one_hot_labels * log_probs, axis=-1)
    loss = tf.reduce_mean(per_example_loss)
    return loss, per_example_loss, logits


def create_optimizer(loss, init_lr, use_tpu):
  global_step = tf.train.get_or_create_global_step()
  optimizer = tf.train.AdamOptimizer(learning_rate=init_lr)
  if use_tpu:
    optimizer = tf.contrib.tpu.CrossShardOptimizer(optimizer)
  tvars = tf.trainable_variables()
  grads = tf.gradients(loss, tvars)
  (grads, _) = tf.clip_by_global_norm(grads, clip_norm=1.0)
  return optimizer.apply_gradients(zip(grads, tvars), global_step=global_step)


def model_fn_builder(bert_config, num_labels, init_checkpoint, learning_rate, use_tpu):
  def model_fn(features, labels, mode, params):
    tf.logging.info("*** Features ***")
    for name in sorted(features.keys()):
      tf.logging.info("  name = %s, shape = %s" % (name, features[name].shape))
    is_training = (mode == tf.estimator.ModeKeys.TRAIN)
    (total_loss, per_example_loss, logits) = create_model(
        bert_config, is_training, features["input_ids"], features["input_mask"], features["segment_ids"],
        features["label_ids"], num_labels)

    tvars = tf.trainable_variables()
    initialized_variable_names = {}
    scaffold_fn = None
    if init_checkpoint:
      (assignment_map, initialized_variable_names
      ) = modeling.get_assignment_map_from_checkpoint(tvars, init_checkpoint)
      if use_tpu:

        def tpu_scaffold():
          tf.train.init_from_checkpoint(init_checkpoint, assignment_map)
          return tf.train.Scaffold()

        scaffold_fn = tpu_scaffold
      else:
        tf.train.init_from_checkpoint(init_checkpoint, assignment_map)

    for var in tvars:
      init_string = ", *INIT_FROM_CKPT*" if var.name in initialized_variable_names else ""
      tf.logging.info("  name = %s, shape = %s%s", var.name, var.shape, init_string)

    if mode == tf.estimator.ModeKeys.TRAIN:
      train_op = create_optimizer(total_loss, learning_rate, use_tpu)
      return tf.contrib.tpu.TPUEstimatorSpec(
          mode=mode, loss=total_loss, train_op=train_op, scaffold_fn=scaffold_fn)

    def metric_fn(per_example_loss, label_ids, logits):
      predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
      return {
          "eval_accuracy": tf.metrics.accuracy(labels=label_ids, predictions=predictions),
          "eval_loss": tf.metrics.mean(values=per_example_loss),
      }

    return tf.contrib.tpu.TPUEstimatorSpec(
        mode=mode, loss=total_loss, eval_metrics=(metric_fn, [per_example_loss, features["label_ids"], logits]),
        scaffold_fn=scaffold_fn)

  return model_fn


def main(_):
  tf.logging.set_verbosity(tf.logging.INFO)
  bert_config = modeling.BertConfig.from_json_file(FLAGS.bert_config_file)
  tf.gfile.MakeDirs(FLAGS.output_dir)

  is_per_host = tf.contrib.tpu.InputPipelineConfig.PER_HOST_V2
  run_config = tf.contrib.tpu.RunConfig(
      cluster=None,
      master=FLAGS.master,
      model_dir=FLAGS.output_dir,
      save_checkpoints_steps=FLAGS.save_checkpoints_steps,
      tpu_config=tf.contrib.tpu.TPUConfig(
          iterations_per_loop=FLAGS.iterations_per_loop,
          num_shards=FLAGS.num_tpu_cores,
          per_host_input_for_training=is_per_host))

  model_fn = model_fn_builder(
      bert_config=bert_config, num_labels=NUM_LABELS, init_checkpoint=FLAGS.init_checkpoint,
      learning_rate=FLAGS.learning_rate, use_tpu=FLAGS.use_tpu)
  estimator = tf.contrib.tpu.TPUEstimator(
      use_tpu=FLAGS.use_tpu, model_fn=model_fn, config=run_config,
      train_batch_size=FLAGS.train_batch_size, eval_batch_size=FLAGS.train_batch_size)

  train_file = os.path.join(FLAGS.output_dir, "train.tf_record")
  write_synthetic_examples(train_file, 32, FLAGS.max_seq_length, bert_config.vocab_size)
  train_input_fn = file_based_input_fn_builder(
      input_file=train_file, seq_length=FLAGS.max_seq_length, is_training=True, drop_remainder=True)
  estimator.train(input_fn=train_input_fn, max_steps=FLAGS.num_train_steps)

  eval_input_fn = file_based_input_fn_builder(
      input_file=train_file, seq_length=FLAGS.max_seq_length, is_training=False, drop_remainder=True)
  result = estimator.evaluate(input_fn=eval_input_fn, steps=2)
  output_eval_file = os.path.join(FLAGS.output_dir, "eval_results.txt")
  with tf.gfile.GFile(output_eval_file, "w") as writer:
    for key in sorted(result.keys()):
      tf.logging.info("  %s = %s", key, str(result[key]))
      writer.write("%s = %s\n" % (key, str(result[key])))


if __name__ == "__main__":
  flags.mark_flag_as_required("bert_config_file")
  flags.mark_flag_as_required("output_dir")
  tf.app.run()
