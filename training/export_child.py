"""The export of a run trained off TensorFlow, run as a child process on TensorFlow.

    KERAS_BACKEND=tensorflow python -m training.export_child WORKDIR CHECKPOINT BUILD_JSON

Rebuilds the run's GAN (config.json) on TensorFlow, loads its networks (G, D with any heads,
the averaged G) from CHECKPOINT, an `ArrayCheckpoints` file written on JAX or PyTorch, and
exports them with training/checkpoints.py `export`, as a TensorFlow run does. BUILD_JSON gives
what the data decided: {"shape", "num_classes", "is_image", "class_names"}. A failure prints
one line `error: ...` and exits with status 1. (Keras' own export from JAX goes through
jax2tf, whose shape polymorphism and variable handling the SavedModel contract would have to
work around: keras#19134, #20848; the weights are the same numbers on every backend.)
"""
import json
import os
import sys


def main(workdir, checkpoint, build):
    import keras

    if keras.backend.backend() != "tensorflow":
        sys.exit("error: training.export_child runs on TensorFlow (KERAS_BACKEND=tensorflow)")
    from training import checkpoints
    from training.callbacks import RunError
    from training.config import Config
    from training.loop import build_gan

    build = json.loads(build)
    config = Config.load(os.path.join(workdir, "config.json"))
    gan = build_gan(config, tuple(build["shape"]), build["num_classes"])
    try:  # the networks only: TensorFlow's optimizers may order their slots otherwise
        checkpoints.ArrayCheckpoints(gan, os.path.dirname(checkpoint), 0).restore(
            checkpoint, only=(*checkpoints.generators(gan), "discriminator"))
    except ValueError as e:
        sys.exit(f"error: could not export the generator: {checkpoint} does not hold this run's "
                 f"networks ({e})")
    try:
        checkpoints.export(gan, build["is_image"], workdir, checkpoint, build["class_names"])
    except RunError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
