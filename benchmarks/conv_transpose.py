"""Is XLA's transposed convolution the slow part of the DCGAN generator on CPU?

    python -m benchmarks.conv_transpose [--rounds=3] [--repeats=15]

Times, under XLA, the forward pass and gradients of the DCGAN generator's two stride-2
transposed convolutions at batch 128 (7x7x128 -> 14x14x64 -> 28x28x1, 4x4 kernels), against
the same layers written as a 3x3 convolution to 4x the channels and a depth-to-space (the
"sub-pixel" form, 2.25x the arithmetic). Alternates the two, median of `--repeats` calls per
round.
"""
import time

import numpy as np
import tensorflow as tf
from absl import app, flags

flags.DEFINE_integer("rounds", 3, "Rounds over both forms.")
flags.DEFINE_integer("repeats", 15, "Timed calls per form and round.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    batch = 128
    x1, x2 = tf.random.normal([batch, 7, 7, 128]), tf.random.normal([batch, 14, 14, 64])
    w1 = tf.Variable(tf.random.normal([4, 4, 64, 128]) * 0.02)
    w2 = tf.Variable(tf.random.normal([4, 4, 1, 64]) * 0.02)
    v1 = tf.Variable(tf.random.normal([3, 3, 128, 4 * 64]) * 0.02)
    v2 = tf.Variable(tf.random.normal([3, 3, 64, 4 * 1]) * 0.02)

    def transposed(x, w, channels):
        shape = [batch, 2 * x.shape[1], 2 * x.shape[2], channels]
        return tf.nn.conv2d_transpose(x, w, shape, 2, "SAME")

    def subpixel(x, v):
        return tf.nn.depth_to_space(tf.nn.conv2d(x, v, 1, "SAME"), 2)

    @tf.function(jit_compile=True)
    def transposed_step():
        with tf.GradientTape() as tape:
            y = (tf.reduce_sum(transposed(x1, w1, 64) ** 2)
                 + tf.reduce_sum(transposed(x2, w2, 1) ** 2))
        return tape.gradient(y, [w1, w2])

    @tf.function(jit_compile=True)
    def subpixel_step():
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(subpixel(x1, v1) ** 2) + tf.reduce_sum(subpixel(x2, v2) ** 2)
        return tape.gradient(y, [v1, v2])

    forms = (("transposed conv", transposed_step), ("3x3 conv + depth-to-space", subpixel_step))
    for _, step in forms:
        step()
    for r in range(FLAGS.rounds):
        for name, step in forms:
            times = []
            for _ in range(FLAGS.repeats):
                start = time.perf_counter()
                step()[0].numpy()
                times.append(time.perf_counter() - start)
            print(f"round {r}: {name}: {np.median(times) * 1e3:.1f} ms")


if __name__ == "__main__":
    app.run(main)
