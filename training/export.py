"""Exports the generator as a TF SavedModel that needs nothing of this repo to load.

Contract (docs/export.md):
- signature `sample(num_samples: int32 scalar, seed: int32 scalar)` -> `samples` (float32:
  images NHWC in [0, 1], or 2-D points for toy data, in the data's own coordinates: a toy
  protocol that trains on data divided by `data_scale` has G's output multiplied back), plus
  `labels` int32 [N] (AC-GAN: the class asked for), `categorical` int32 [N] and `continuous` float32 [N, k] (InfoGAN). Same seed, same
  samples: the latents are drawn with stateless RNG.
- signature `serving_default(z[, labels][, categorical, continuous])` -> `samples`: the generator
  on explicit inputs.
- signature `latent_spec()` -> int32 scalars `noise_dim`, `num_classes`, `num_categorical`,
  `num_continuous`: what `serving_default` takes; `noise_uniform`: 1 if `sample` draws z from
  U(-1, 1), 0 if from N(0, I).
- InfoGAN only: signature `infer_codes(samples)` -> `categorical_logits` [N, K] and
  `continuous_mean` [N, k]: the Q head (sharing D's trunk) on samples in the `samples` format,
  for using the code as an unsupervised classifier (eval.py).
- Trained on a folder of class sub-folders: signature `class_names()` -> `names` string [K], the
  sub-folder of each label, so that pictures can name their rows without the run directory.
"""
import keras
import tensorflow as tf


def export_generator(gan, is_image, path, class_names=(), generator=None):
    """Writes `generator` (default: `gan.sampler`, the averaged G under --ema) with the
    signatures above to `path`; the latent (models/latent.py) gives the inputs and their
    bounds, the model any signatures of its own (`export_endpoints`: InfoGAN's `infer_codes`);
    `class_names` (one per label) adds `class_names`. A toy protocol's G is multiplied back by
    `variant.data_scale`."""
    spec, data_scale = gan.latent, gan.variant.data_scale
    generator = generator or gan.sampler

    def to_output(x):
        x = tf.cast(x, tf.float32)
        return tf.clip_by_value((x + 1.0) / 2.0, 0.0, 1.0) if is_image else x * data_scale

    def to_model_input(samples):
        """The inverse of `to_output`: samples in the export's format -> what D takes."""
        return samples * 2.0 - 1.0 if is_image else samples / data_scale

    def checks(latents):
        """Every integer input (a class label, a code) in [0, its bound)."""
        asserts = []
        for name, bound in spec.bounds().items():
            message = f"{name} must be in [0, {bound})"
            asserts += [tf.debugging.assert_less(latents[name], bound, message=message),
                        tf.debugging.assert_non_negative(latents[name], message=message)]
        return asserts

    def generate(latents):
        with tf.control_dependencies(checks(latents)):
            return to_output(generator(spec.generator_input(latents), training=False))

    def sample(num_samples, seed):
        with tf.control_dependencies([tf.debugging.assert_non_negative(
                num_samples, message="num_samples must be >= 0")]):
            latents = spec.sample(num_samples, tf.stack([seed, 0]))
        return {"samples": generate(latents),
                **{name: value for name, value in latents.items() if name != "z"}}

    inputs = [tf.TensorSpec(shape, dtype, name=name)
              for name, shape, dtype in spec.serving_inputs()]

    def serve(*args):
        return {"samples": generate({s.name: a for s, a in zip(inputs, args)})}

    archive = keras.export.ExportArchive()
    archive.track(generator)
    archive.add_endpoint("sample", sample, input_signature=[
        tf.TensorSpec([], tf.int32, name="num_samples"), tf.TensorSpec([], tf.int32, name="seed")])
    archive.add_endpoint("serving_default", serve, input_signature=inputs)
    archive.add_endpoint("latent_spec", lambda: {
        name: tf.constant(size, tf.int32) for name, size in spec.sizes().items()},
        input_signature=[])
    if class_names:
        names = list(class_names)
        archive.add_endpoint("class_names", lambda: {"names": tf.constant(names)},
                             input_signature=[])
    gan.export_endpoints(archive, to_model_input, tf.TensorSpec(
        [None, *generator.output_shape[1:]], tf.float32, name="samples"))
    archive.write_out(path, verbose=False)
