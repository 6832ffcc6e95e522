"""The TF1 layer functions (`tf.compat.v1.layers`, `tf.contrib.layers.layer_norm`) without Keras.

Under Keras 3 `tf.compat.v1.layers` is gone, and bringing it back (tf-keras + TF_USE_LEGACY_KERAS=1)
changes what `tf.keras` means for the whole process. These are small layers on
`tf.compat.v1.get_variable` with TF1's variable names, so checkpoints written by TF 1.x-2.15 programs
(BERT, the TPU reference models) restore unchanged. `estimator-pipelines upgrade` rewrites
`tf.layers.X` / `tf.compat.v1.layers.X` / `tf.contrib.layers.layer_norm` to these names.
"""

from estimator_lib.layers.convolutional import (
    AveragePooling2D,
    Conv2D,
    MaxPooling2D,
    average_pooling2d,
    conv2d,
    max_pooling2d,
)
from estimator_lib.layers.core import Dense, Dropout, Flatten, dense, dropout, flatten
from estimator_lib.layers.normalization import BatchNormalization, batch_normalization, layer_norm

__all__ = [
    "AveragePooling2D",
    "BatchNormalization",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "MaxPooling2D",
    "average_pooling2d",
    "batch_normalization",
    "conv2d",
    "dense",
    "dropout",
    "flatten",
    "layer_norm",
    "max_pooling2d",
]
