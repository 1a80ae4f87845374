"""Trains one of the six classic GANs, logs to TensorBoard, checkpoints and exports G.

    python train.py --model=acgan                      # AC-GAN on MNIST (or mnist_5k offline)
    python train.py --model=wgan_gp --dataset=grid25 --workdir=runs/grid
    python train.py --model=dcgan --dataset=folder:photos --image_size=64   # your own images
    tensorboard --logdir runs/acgan

Defaults are each paper's (models/variants.py, docs/variants.md); flags left unset keep them.
"""
import os
import shlex
import sys

# TensorFlow's oneDNN kernels, read once when TensorFlow loads (so before any import of it): on
# the 2-core CPU they made the DCGAN step faster than the XLA one had been (docs/speed.md;
# training/xla.py XLA_DEFAULT). TF_ENABLE_ONEDNN_OPTS=0 keeps TensorFlow's own.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from training.console import devices, flag_value, run_first_ops, start_tensorflow  # noqa: E402

start_tensorflow()  # before anything imports it: without its start-up lines

from absl import app, flags, logging  # noqa: E402

from data.datasets import DatasetError  # noqa: E402
from training import config as config_module  # noqa: E402
from training.callbacks import RunError  # noqa: E402
from training.config import ConfigError, config_from_flags, define_flags  # noqa: E402
from training.distribute import split_cpu  # noqa: E402
from training.loop import Interrupted, LostWorker, train  # noqa: E402

FLAGS = flags.FLAGS
# One flag per setting of training/config.py (docs/options.md); the help gives the values of
# the --model (and --dataset) on this command line.
define_flags(FLAGS, flag_value(sys.argv, "model"), flag_value(sys.argv, "dataset"))
flags.adopt_module_key_flags(config_module)  # listed by --help, not only --helpfull
flags.DEFINE_integer("cpu_devices", None,
                     "Split the CPU into this many logical devices (mirrored without GPUs).")


# Exit status of a worker whose peer was lost (EX_TEMPFAIL): restarting the cluster resumes it.
LOST_WORKER_STATUS = 75


def main(argv):
    if not FLAGS["verbosity"].present:
        # Errors only: the libraries' warnings (tensorflow-datasets on a dataset it cannot find,
        # retracing notices) say again, less clearly, what the run says in its own lines.
        logging.set_verbosity(logging.ERROR)
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])}; "
                 "flags take the form --name=value")
    if FLAGS.cpu_devices:
        split_cpu(FLAGS.cpu_devices)
    run_first_ops()
    config = config_from_flags(FLAGS)
    print(f"train.py: {config.model} on {config.dataset}, {devices()}; run directory "
          f"{config.workdir}", flush=True)
    try:
        logs = train(config)
    except LostWorker as e:
        command = shlex.join(["python"] + sys.argv)
        print(f"error: {e}: {command}", file=sys.stderr)
        sys.exit(LOST_WORKER_STATUS)
    except (ConfigError, DatasetError, RunError) as e:
        sys.exit(f"error: {e}")
    except Interrupted as e:
        print(f"stopped: {e}", file=sys.stderr)
        sys.exit(130)
    if logs:
        print("final step: " + " ".join(f"{k}={logs[k]:.4g}" for k in ("d_loss", "g_loss")
                                        if k in logs))
    print(next_steps(config.workdir))


def next_steps(workdir):
    """What to run next on the run in `workdir`, with its paths."""
    saved_model = os.path.join(workdir, "saved_model")
    return "\n".join([
        f"exported generator: {saved_model}", "next:",
        f"  tensorboard --logdir {shlex.quote(workdir)}        # the curves and sample grids",
        f"  python sample.py --saved_model={shlex.quote(saved_model)} "
        f"--out={shlex.quote(os.path.join(workdir, 'samples.png'))}",
        f"  python eval.py --workdir={shlex.quote(workdir)}    # scores against held-out data"])


if __name__ == "__main__":
    app.run(main)
