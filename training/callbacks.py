"""Keras callbacks of a run: per-step scalars, per-epoch sample pictures, checkpoints.

The TensorBoard callback of Keras is not used: with its default update_freq="epoch" it has no
writer for images, and it logs the learning rate of an optimizer a GAN does not use
(KERAS3_TRAPS.md). These write with one `tf.summary` writer of the run.
"""
import keras
import numpy as np
import tensorflow as tf

from training import visualize


class ScalarLogger(keras.callbacks.Callback):
    """Writes every value of the step's logs (losses, D outputs, gradient norms) every
    `every` steps, at the step count reached after the update."""

    def __init__(self, writer, start_step, every=1):
        super().__init__()
        self.writer, self.step, self.every = writer, start_step, every

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every:
            return
        with self.writer.as_default(step=self.step):
            for name, value in (logs or {}).items():
                tf.summary.scalar(name, np.asarray(value).reshape(-1)[0])

    def on_epoch_end(self, epoch, logs=None):
        self.writer.flush()


class SamplePictures(keras.callbacks.Callback):
    """At each epoch end, writes the fixed-noise grids (images) or a scatter over the real
    mixture (toy data) as TensorBoard images."""

    def __init__(self, writer, gan, real_points=None):
        super().__init__()
        self.writer, self.gan, self.real_points = writer, gan, real_points
        self.grids = None if real_points is not None else visualize.grid_latents(gan.latent)

    def pictures(self):
        """{tag: [H, W, C] float image in [0, 1]}."""
        spec, generator = self.gan.latent, self.gan.generator
        if self.real_points is not None:
            samples = generator(spec.generator_input(spec.sample(1000, [1234, 0])),
                                training=False).numpy()
            png = visualize.scatter_png(samples, self.real_points,
                                        title=f"step {int(self.gan.step.numpy())}")
            return {"samples": tf.io.decode_png(png, channels=3).numpy() / 255.0}
        pictures = {}
        for tag, (latents, rows, cols) in self.grids.items():
            images = visualize.to_unit(generator(spec.generator_input(latents), training=False))
            pictures[tag] = visualize.image_grid(images, rows, cols)
        return pictures

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.gan.step.numpy())
        with self.writer.as_default(step=step):
            for tag, image in self.pictures().items():
                tf.summary.image(tag, image[None], max_outputs=1)
        self.writer.flush()


class Checkpointer(keras.callbacks.Callback):
    """Saves a checkpoint, numbered by the generator step, at each epoch end."""

    def __init__(self, manager, gan):
        super().__init__()
        self.manager, self.gan = manager, gan

    def on_epoch_end(self, epoch, logs=None):
        self.manager.save(checkpoint_number=int(self.gan.step.numpy()))
