"""Trains one of the six classic GANs, logs to TensorBoard, checkpoints and exports G.

    python train.py --model=acgan                      # AC-GAN on MNIST (or mnist_5k offline)
    python train.py --model=wgan_gp --dataset=grid25 --workdir=runs/grid
    python train.py --model=dcgan --dataset=folder:photos --image_size=64   # your own images
    tensorboard --logdir runs/acgan

Defaults are each paper's (models/variants.py; the README's table); flags left unset keep them.
"""
import dataclasses
import os
import shlex
import sys

# TensorFlow's oneDNN kernels, read once when TensorFlow loads (so before any import of it): on
# the 2-core CPU they made the DCGAN step 1.28x faster than the XLA one, which it had been
# (README, "Speed"; training/loop.py XLA_DEFAULT). TF_ENABLE_ONEDNN_OPTS=0 keeps TensorFlow's own.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from absl import app, flags, logging

from data.datasets import DATASETS, DatasetError
from models.networks import ARCHS, NORMS
from models.variants import VARIANTS
from training.config import LOSS_CHOICES, Config, ConfigError
from training.distribute import STRATEGIES, split_cpu
from training.callbacks import RunError
from training.loop import Interrupted, LostWorker, train

_D = Config()
FLAGS = flags.FLAGS
flags.DEFINE_enum("model", _D.model, list(VARIANTS), "GAN variant to train.")
flags.DEFINE_string("dataset", _D.dataset,
                    f"Training data: one of {', '.join(DATASETS)} (mnist falls back to the "
                    "shipped mnist_5k when offline), or folder:DIR, a directory of images (flat, "
                    "or one sub-folder per class for acgan).")
flags.DEFINE_string("workdir", None, "Run directory (default: runs/<model>); rerun to resume.")
flags.DEFINE_integer("train_steps", None, "Generator updates in the whole run (default: the "
                     "variant's, README table; the toy protocols' own on ring8/grid25).")
flags.DEFINE_integer("steps_per_epoch", _D.steps_per_epoch,
                     "Steps between sample pictures and checkpoints.")
flags.DEFINE_integer("seed", _D.seed, "Seed of weights, noise and data order.")
flags.DEFINE_integer("batch_size", None, "Examples per discriminator update (default: paper's).")
flags.DEFINE_integer("d_steps", None, "Discriminator updates per generator update (k, n_critic).")
flags.DEFINE_enum("loss", None, list(LOSS_CHOICES),
                  "gan/dcgan generator cost: log(1-D(G(z))) or -log D(G(z)).")
flags.DEFINE_integer("latent_dim", None, "Size of the noise z (default: paper's).")
flags.DEFINE_float("d_lr", None, "Discriminator learning rate (default: paper's).")
flags.DEFINE_float("g_lr", None, "Generator learning rate (default: paper's).")
flags.DEFINE_float("beta_1", None, "Adam beta_1 of both optimizers (default: paper's).")
flags.DEFINE_float("beta_2", None, "Adam beta_2 of both optimizers (default: paper's).")
flags.DEFINE_float("gp_weight", None, "Gradient-penalty weight lambda (wgan_gp; default 10).")
flags.DEFINE_float("clip_value", None, "Critic weight-clipping bound c (wgan; default 0.01).")
flags.DEFINE_integer("width", None, "Base width: conv channels (64) or MLP units (512; toy "
                     "protocols: 512 gan_toy.py, 400 PacGAN's G with 200-unit maxout D).")
flags.DEFINE_enum("d_norm", None, list(NORMS), "D's hidden-layer normalization (default: "
                  "the variant's; mlp, dcgan and infogan_mnist nets).")
flags.DEFINE_enum("g_norm", None, ["batch", "none"], "Batch norm in G's hidden layers, or none "
                  "(default: batch where G's nets have it: dcgan, infogan_mnist, pacgan_toy).")
flags.DEFINE_enum("g_arch", None, list(ARCHS), "G's networks when not D's (e.g. mlp: the WGAN "
                  "paper's MLP generator; default: the variant's).")
flags.DEFINE_integer("g_width", None, "G's width when not --width (0: --width).")
flags.DEFINE_float("data_scale", None, "Toy data: divide the training points by this "
                   "(default: the toy protocol's, e.g. 1.414 on ring8 for wgan_gp); samples "
                   "and scores stay in the data's coordinates.")
flags.DEFINE_integer("train_points", None, "Toy data: train on a fixed set of this many points "
                     "drawn from the seed (0: fresh draws every batch; default: the protocol's).")
flags.DEFINE_integer("train_examples", None, "Images: train on this many training examples, "
                     "the first of each class in file order (0: all; in-memory data: mnist_5k, "
                     "folders).")
flags.DEFINE_bool("toy_defaults", _D.toy_defaults, "On ring8/grid25, take gan/wgan/wgan_gp's "
                  "defaults from their toy protocol (PacGAN, gan_toy.py); --notoy_defaults "
                  "keeps the image runs' defaults.")
flags.DEFINE_integer("image_size", None, "Resize images to this side (default: dataset's; a "
                     "folder's images are centre-cropped to a square first).")
flags.DEFINE_integer("channels", None, "folder: 1 (grey) or 3 (colour); default: 3 when any "
                     "file has colour, else 1.")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory.")
flags.DEFINE_integer("log_every", _D.log_every, "Steps between TensorBoard scalar writes.")
flags.DEFINE_integer("print_every", _D.print_every,
                     "Steps between plain progress lines when stdout is not a terminal (a log "
                     "file or pipe); on a terminal Keras's progress bar is shown instead.")
flags.DEFINE_integer("checkpoint_every", _D.checkpoint_every,
                     "Steps between checkpoints (one is also written at the end).")
flags.DEFINE_integer("keep_checkpoints", _D.keep_checkpoints, "Latest checkpoints to keep.")
flags.DEFINE_bool("overwrite", _D.overwrite,
                  "Replace the run in --workdir instead of resuming it.")
flags.DEFINE_bool("jit_compile", None,
                  "Compile the train step with XLA (default: where it measured faster, see "
                  "training/loop.py XLA_DEFAULT; off under multi-device strategies).")
flags.DEFINE_bool("mixed_precision", _D.mixed_precision,
                  "float16 compute with float32 variables/outputs and loss scaling of both "
                  "optimizers.")
flags.DEFINE_enum("strategy", _D.strategy, list(STRATEGIES),
                  "tf.distribute strategy; multi_worker reads TF_CONFIG.")
flags.DEFINE_string("devices", None,
                    "mirrored: comma-separated devices (default: all GPUs, else all CPUs).")
flags.DEFINE_integer("cpu_devices", None,
                     "Split the CPU into this many logical devices (mirrored without GPUs).")
flags.DEFINE_string("tpu", None, "tpu: the TPU's name or grpc:// address.")


# Exit status of a worker whose peer was lost (EX_TEMPFAIL): restarting the cluster resumes it.
LOST_WORKER_STATUS = 75


def config_from_flags():
    fields = {f.name: FLAGS[f.name].value for f in dataclasses.fields(Config) if f.name in FLAGS}
    fields["workdir"] = FLAGS.workdir or f"runs/{FLAGS.model}"
    return Config(**fields)


def main(argv):
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # keep the terminal to the progress bar
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])}; "
                 "flags take the form --name=value")
    if FLAGS.cpu_devices:
        split_cpu(FLAGS.cpu_devices)
    config = config_from_flags()
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
        print("final step: " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(logs.items())))
    print(f"exported generator: {config.workdir}/saved_model")


if __name__ == "__main__":
    app.run(main)
