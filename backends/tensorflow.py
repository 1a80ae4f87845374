"""The TensorFlow backend's side of backends/__init__.py."""
import tensorflow as tf


def input_gradient(fn, x):
    # A tape of its own, inside whatever tape takes the outer gradient: TensorFlow records the
    # inner gradient's ops, so the outer one differentiates through it.
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(tf.cast(fn(x), tf.float32))
    return tape.gradient(total, x)
