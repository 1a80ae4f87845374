"""What the generator is fed: Gaussian noise z, plus a class label (AC-GAN) or latent codes
(InfoGAN), drawn with stateless RNG so that the same seed gives the same draw everywhere
(training step, export, evaluation)."""
import dataclasses

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class LatentSpec:
    noise_dim: int
    num_classes: int = 0      # AC-GAN: G is conditioned on a one-hot class label
    num_categorical: int = 0  # InfoGAN: one categorical code with this many values
    num_continuous: int = 0   # InfoGAN: continuous codes c_j ~ U(-1, 1)

    @property
    def input_dim(self):
        return self.noise_dim + self.num_classes + self.num_categorical + self.num_continuous

    def sample(self, batch_size, seed):
        """Draws a dict of latents for `batch_size` samples from a [2] int stateless seed.

        Keys: `z` [N, noise_dim] ~ N(0, 1); `labels` [N] ~ U{0..num_classes-1} (AC-GAN);
        `categorical` [N] ~ U{0..K-1} and `continuous` [N, k] ~ U(-1, 1) (InfoGAN).
        """
        seed = tf.cast(seed, tf.int64)

        # Philox named explicitly, so a seed keeps its samples on CPU and GPU. (XLA-compiled
        # steps draw other numbers from the same seed: same distribution, other values.)
        def sub(i):
            return tf.random.experimental.stateless_fold_in(seed, i, alg="philox")

        latents = {"z": tf.random.stateless_normal([batch_size, self.noise_dim], sub(0),
                                                        alg="philox")}
        if self.num_classes:
            latents["labels"] = tf.random.stateless_uniform(
                [batch_size], sub(1), 0, self.num_classes, dtype=tf.int32, alg="philox")
        if self.num_categorical:
            latents["categorical"] = tf.random.stateless_uniform(
                [batch_size], sub(2), 0, self.num_categorical, dtype=tf.int32, alg="philox")
        if self.num_continuous:
            latents["continuous"] = tf.random.stateless_uniform(
                [batch_size, self.num_continuous], sub(3), -1.0, 1.0, alg="philox")
        return latents

    def generator_input(self, latents):
        """Concatenates z, one-hot label, one-hot categorical code and continuous codes."""
        parts = [tf.cast(latents["z"], tf.float32)]
        if self.num_classes:
            parts.append(tf.one_hot(latents["labels"], self.num_classes))
        if self.num_categorical:
            parts.append(tf.one_hot(latents["categorical"], self.num_categorical))
        if self.num_continuous:
            parts.append(tf.cast(latents["continuous"], tf.float32))
        return tf.concat(parts, axis=1)
