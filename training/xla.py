"""Whether the training step is compiled with XLA: the flag if given, else what measured faster.

On one device the default is `XLA_DEFAULT`, by device, the step's kind and whether TensorFlow's
oneDNN kernels are on; benchmarks.train_step measured it (docs/speed.md). On the 2-core CPU,
with oneDNN's kernels (train.py turns them on), the convolutional steps ran as fast or faster
without XLA, except the gradient penalty's, and the MLP steps stayed faster with it; with
TensorFlow's own (Eigen) kernels XLA was faster for every kind. Kinds: "mlp", "conv",
"conv_gp" (models/networks.py `Arch.convolutional`; the toy protocols' nets are MLPs).
GPU: not measured here.
"""
import os

import keras
import tensorflow as tf

from models.networks import ARCHITECTURES

XLA_DEFAULT = {(device, kind, onednn): True for device in ("CPU", "GPU")
               for kind in ("mlp", "conv", "conv_gp") for onednn in (False, True)}
XLA_DEFAULT["CPU", "conv", True] = False


def onednn_enabled():
    """Whether TensorFlow runs its oneDNN kernels in this process. It decides once, at import,
    from TF_ENABLE_ONEDNN_OPTS (unset: on only for CPUs with AVX-512 VNNI or newer)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):  # a TensorFlow without it: trust the variable
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1"


def step_kind(network, gradient_penalty=False):
    """The key of `XLA_DEFAULT` for a step on `network`'s nets."""
    if not ARCHITECTURES[network].convolutional:
        return "mlp"
    return "conv_gp" if gradient_penalty else "conv"


def resolve_jit_compile(requested, strategy, network, onednn=None, gradient_penalty=False):
    """Whether the step is compiled with XLA: the flag if given, else `XLA_DEFAULT` for this
    device, the step's kind (`network`, models/networks.py ARCHS, and whether it has a gradient
    penalty) and whether oneDNN's kernels are on (`onednn`; None: as in this process). Under a
    multi-device strategy Keras cannot compile the step over mirrored variables
    (docs/keras_traps.md), so it is off there, said in one line."""
    if keras.backend.backend() == "jax":
        return True  # Keras' JAX trainer compiles every step (jit_compile=False: eagerly)
    if keras.backend.backend() != "tensorflow":
        return False if requested is None else requested
    single = strategy.num_replicas_in_sync == 1 and not isinstance(
        strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if single:
        device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
        onednn = onednn_enabled() if onednn is None else onednn
        return (XLA_DEFAULT[device, step_kind(network, gradient_penalty), onednn]
                if requested is None else requested)
    if requested is not False:  # asked for, or the default: say why it is off
        print(f"XLA is off: Keras cannot jit-compile a step under {type(strategy).__name__} "
              f"with {strategy.num_replicas_in_sync} replicas; training without it", flush=True)
    return False
