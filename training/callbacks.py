"""Keras callbacks of a run: per-step scalars, per-epoch sample pictures, checkpoints.

Keras calls `on_train_batch_end` once per call into TensorFlow: with --steps_per_execution=K
that is after K steps, with every log a [K] vector (`step_rows` splits it into the K steps'
logs), so the per-step callbacks (`StepCounter`s) take `steps_per_call` and still see every
step.

The TensorBoard callback of Keras is not used: with its default update_freq="epoch" it has no
writer for images, and it logs the learning rate of an optimizer a GAN does not use
(docs/keras_traps.md). These write with one `tf.summary` writer of the run.
"""
import functools
import signal
import sys
import threading
import time

import keras
import numpy as np
import tensorflow as tf

import backends
from models import augment
from training import visualize, workdir
from training.distribute import is_peer_failure


def step_rows(logs, steps_per_call):
    """The logs of one call of `steps_per_call` steps as that many dicts of floats, in step
    order (a value is a scalar when the call ran one step, else a vector of one per step)."""
    values = {name: np.asarray(value, np.float64).reshape(-1)
              for name, value in (logs or {}).items()}
    return [{name: float(v[i]) for name, v in values.items()} for i in range(steps_per_call)]


class StepCounter(keras.callbacks.Callback):
    """A callback that counts the run's steps over Keras's calls of `steps_per_call` steps."""

    def __init__(self, start_step, steps_per_call=1):
        super().__init__()
        self.step, self.steps_per_call = start_step, steps_per_call

    def advance(self):
        """The steps of the call that just ended, in order; `step` is then the last of them."""
        first = self.step + 1
        self.step += self.steps_per_call
        return range(first, self.step + 1)


def scalar_tags(gan, names):
    """{log name: (TensorBoard tag, description)} for the logs `names` of `gan`'s step: the
    tag is `group/name` with the group the model class gives (loss, D_output, grad_norm, the
    variant's own), the description its meaning and its weight in its objective, as the step
    traced it (`gan.objective_weights`); a name the class does not describe keeps its own tag."""
    described = gan.term_descriptions() if hasattr(gan, "term_descriptions") else {}
    weights = getattr(gan, "objective_weights", {})
    owner = {term: objective for objective, terms in weights.items() for term in terms}
    d_steps = gan.variant.d_steps if hasattr(gan, "variant") else 1
    last = (f" D's terms are those of the last of the step's {d_steps} D updates."
            if d_steps > 1 else "")
    tags = {}
    for name in names:
        group, text = described.get(name, (None, ""))
        if name in weights:  # an objective: its terms with their weights
            parts = [f"{w:g} x {term}" for term, w in weights[name].items() if w is not None]
            text += f" Here {name} = {' + '.join(parts)}."
        elif name in owner and group != "D_output":  # D's outputs: watched, not terms
            weight = weights[owner[name]][name]
            text += (f" Weight {weight:g} in {owner[name]}." if weight is not None else
                     f" Logged only: not optimized (weight 0 in {owner[name]}).")
        if name.startswith("d_") and last:
            text += last
        tags[name] = (f"{group}/{name}" if group else name, text.strip())
    return tags


class ScalarLogger(StepCounter):
    """Writes every value of each step's logs (losses, D outputs, gradient norms) every
    `every` steps, at the step count reached after the update, under tags grouped by what they
    are (`scalar_tags`), each with its description: the first write of the process carries
    them (TensorBoard reads a tag's description from its first event), later ones do not, so
    that a long run's events do not repeat them.

    The writes run as one traced function per call: written eagerly, each scalar is its own op
    dispatch, and a step's ten of them cost milliseconds, which a toy step feels
    (`python -m benchmarks.train_step --scalars=traced` against `--scalars=eager`)."""

    def __init__(self, writer, start_step, every=1, steps_per_call=1):
        super().__init__(start_step, steps_per_call)
        self.writer, self.every = writer, every
        self.tags = None  # {log name: (tag, description)}, from the first logs
        # One trace per number of rows. The first write, with the descriptions, runs eagerly:
        # once, it costs less than a second trace.
        self._write = tf.function(self._write_scalars)
        self._write_described = functools.partial(self._write_scalars, describe=True)

    def _write_scalars(self, steps, values, describe=False):
        """steps [n] int64, values {name: [n] float32}: row i at steps[i]. A Python loop over
        the static n: a traced loop would put its name scope ("while/") in every tag."""
        for i in range(steps.shape[0]):
            with self.writer.as_default(step=steps[i]):
                for name, value in values.items():
                    tag, description = self.tags[name]
                    tf.summary.scalar(tag, value[i], description=description if describe and
                                      i == 0 else None)

    def on_train_batch_end(self, batch, logs=None):
        steps = self.advance()
        due = [i for i, step in enumerate(steps) if step % self.every == 0]
        if not due or not logs:
            return
        write = self._write
        if self.tags is None:
            self.tags, write = scalar_tags(self.model, logs), self._write_described
        rows = step_rows(logs, self.steps_per_call)
        write(tf.constant([steps[i] for i in due], tf.int64),
              {name: tf.constant([rows[i][name] for i in due], tf.float32) for name in logs})

    def on_epoch_end(self, epoch, logs=None):
        self.writer.flush()


class ProgressLines(StepCounter):
    """train.py's progress, in place of Keras's bar (whose eleven metrics wrap over several
    lines of a terminal and split their names).

    On a terminal (`terminal=True`): one line rewritten in place, at most ten times a second,
    with what a user watches: the step, the two losses, the time per step and the time left,
    e.g. `step 1200/1500 (80%)  d_loss 1.306  g_loss 0.6934  31.2 ms/step  0:09 left`. Every
    term still goes to TensorBoard. Otherwise (a log file or a pipe): one plain line of every
    term every `every` steps and at the last step, with no carriage returns or escape codes,
    e.g. `step 200/3000: d_loss=1.306 g_loss=0.6934 ... (31.2 ms/step)`."""

    SHOWN = ("d_loss", "g_loss")

    def __init__(self, start_step, last_step, every, steps_per_call=1, terminal=False,
                 stream=None):
        super().__init__(start_step, steps_per_call)
        self.last_step, self.every, self.terminal = last_step, every, terminal
        self.stream = stream or sys.stdout
        self._since = (start_step, None)
        self._timing = (start_step, None)  # steps and clock since the first call (no tracing)
        self._drawn = 0.0

    def _ms_per_step(self):
        first_step, began = self._timing
        done = self.step - first_step
        return (time.perf_counter() - began) / done * 1000 if began and done else None

    def on_train_batch_end(self, batch, logs=None):
        steps = self.advance()
        if self._timing[1] is None:  # timing starts after the first call (graph tracing)
            self._timing = (self.step, time.perf_counter())
        if self.terminal:
            now = time.perf_counter()
            if now - self._drawn >= 0.1 or self.step == self.last_step:
                self._drawn = now
                self._draw(step_rows(logs, self.steps_per_call)[-1])
            return
        if self._since[1] is None:
            self._since = (self.step, time.perf_counter())
        due = [i for i, step in enumerate(steps)
               if step % self.every == 0 or step == self.last_step]
        if not due:
            return
        rows = step_rows(logs, self.steps_per_call)
        timed, began = self.step - self._since[0], self._since[1]
        rate = f" ({(time.perf_counter() - began) / timed * 1000:.1f} ms/step)" if timed else ""
        for i in due:  # a call of K steps may hold several
            values = " ".join(f"{name}={value:.4g}" for name, value in sorted(rows[i].items()))
            print(f"step {steps[i]}/{self.last_step}: {values}{rate}", file=self.stream,
                  flush=True)
        self._since = (self.step, time.perf_counter())

    def _draw(self, row):
        parts = [f"step {self.step}/{self.last_step} ({100 * self.step // self.last_step}%)"]
        parts += [f"{name} {row[name]:.4g}" for name in self.SHOWN if name in row]
        ms = self._ms_per_step()
        if ms is not None:
            left = round(ms * (self.last_step - self.step) / 1000)
            parts += [f"{ms:.1f} ms/step", f"{left // 3600}:{left // 60 % 60:02d}:"
                      f"{left % 60:02d} left" if left >= 3600 else
                      f"{left // 60}:{left % 60:02d} left"]
        # \r, the line, then erase what a longer earlier line left to its right.
        self.stream.write("\r" + "  ".join(parts) + "\x1b[K")
        self.stream.flush()

    def on_train_end(self, logs=None):
        if self.terminal:
            self.stream.write("\n")
            self.stream.flush()


class SamplePictures(keras.callbacks.Callback):
    """At each epoch end, writes the fixed-noise grids (images; rows named by `class_names`,
    else by class index or code value) or a scatter over the real mixture (toy data) as
    TensorBoard images. Under --augment, once, at step 0: `real_images` beside what D sees of
    them (`data/real`, `data/augmented`)."""

    def __init__(self, writer, gan, real_points=None, class_names=(), real_images=None):
        super().__init__()
        self.writer, self.gan, self.real_points = writer, gan, real_points
        self.real_images = real_images
        self.class_names = tuple(class_names)
        self.grids = (None if real_points is not None
                      else gan.latent.grids(class_names=self.class_names))

    def pictures(self):
        """{tag: [H, W, C] float image in [0, 1]}."""
        spec, generator = self.gan.latent, self.gan.sampler  # the average under --ema
        if self.real_points is not None:
            samples = keras.ops.convert_to_numpy(self.gan.samples(spec.sample(
                1000, backends.step_seed(1234, 0))))
            png = visualize.scatter_png(samples, self.real_points,
                                        title=f"step {int(self.gan.step.numpy())}")
            return {"samples": tf.io.decode_png(png, channels=3).numpy() / 255.0}
        pictures = {}
        for tag, grid in self.grids.items():
            images = visualize.to_unit(generator(spec.generator_input(grid.latents),
                                                 training=False))
            png = visualize.grid_png(images, grid)
            pictures[tag] = tf.io.decode_png(png, channels=3).numpy() / 255.0
        return pictures

    def augmented_reals(self):
        """{tag: [H, W, C] image}: 64 real images (8 rows of 8; fewer rows of a smaller
        training set) and the same through the augmentation (the draw of D's first update of
        the run), or {} without --augment."""
        if self.real_images is None or not self.gan.augment_ops:
            return {}
        cols = min(8, len(self.real_images))
        rows = min(8, len(self.real_images) // cols)
        real = keras.ops.convert_to_tensor(np.asarray(self.real_images[:rows * cols]),
                                           "float32")
        seen = self.gan.seen(real, backends.step_seed(self.gan.seed, 0), augment.REAL,
                             len(real), len(real))
        return {tag: tf.io.decode_png(visualize.labelled_grid_png(
                    visualize.to_unit(x), rows, cols, title=title), channels=3).numpy() / 255.0
                for tag, x, title in (("data/real", real, "real images"),
                                      ("data/augmented", seen, "what D sees: " +
                                       ",".join(self.gan.augment_ops)))}

    def on_train_begin(self, logs=None):
        if int(self.gan.step.numpy()) == 0:
            with self.writer.as_default(step=0):
                for tag, image in self.augmented_reals().items():
                    tf.summary.image(tag, image[None], max_outputs=1)
            self.writer.flush()

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.gan.step.numpy())
        with self.writer.as_default(step=step):
            for tag, image in self.pictures().items():
                tf.summary.image(tag, image[None], max_outputs=1)
        self.writer.flush()


class RunError(RuntimeError):
    """Training had to stop; the message says why, at which step, and what is intact."""


class NonFiniteGuard(StepCounter):
    """Stops the run at the first step whose logs hold a NaN or Inf (a loss part, D output or
    gradient norm), before any later callback can checkpoint the diverged weights."""

    def __init__(self, start_step, ignore=(), steps_per_call=1):
        super().__init__(start_step, steps_per_call)
        self.ignore = set(ignore)

    def on_train_batch_end(self, batch, logs=None):
        for step, row in zip(self.advance(), step_rows(logs, self.steps_per_call)):
            bad = [f"{name}={value}" for name, value in sorted(row.items())
                   if name not in self.ignore and not np.isfinite(value)]
            if bad:
                break
        if bad:
            raise RunError(f"step {step}: non-finite {', '.join(bad)}; training stopped, "
                           "the last checkpoint and export are those of the last finite step "
                           "(lower the learning rates or check the data)")


class Checkpointer(StepCounter):
    """Saves a checkpoint every `every` steps and at the last step, numbered by the step.

    tf.train.CheckpointManager writes the data files first and only then points the
    `checkpoint` state file at them (an atomic rename), so a kill or a full disk during a save
    leaves the previous checkpoint the one that is restored. A save that fails removes what it
    wrote (a `ckpt-N_temp/` directory, partial `ckpt-N.*` files) and says why in plain words.
    Diverged (non-finite) weights are never saved."""

    def __init__(self, manager, gan, start_step, every, last_step, steps_per_call=1):
        super().__init__(start_step, steps_per_call)  # `every`, `last_step`: multiples of it
        self.manager, self.gan = manager, gan
        self.every, self.last_step = every, last_step
        self.saved_step = start_step  # the restored step is already on disk (or is step 0)

    def on_train_batch_end(self, batch, logs=None):
        self.advance()
        if self.step % self.every == 0 or self.step == self.last_step:
            self.save()

    def save(self):
        """Saves the current step unless already saved. Every worker takes the same decision:
        under multi-worker, saving is a collective operation."""
        if self.model is not None:  # on JAX, reading it puts the trainer's state back in place
            self.gan = self.model
        step = int(self.gan.step.numpy())
        latest = self.manager.latest_checkpoint
        if step == self.saved_step:
            return latest
        values = [np.asarray(v.numpy()) for v in self.gan.weights]
        if not all(np.isfinite(x).all() for x in values if x.dtype.kind == "f"):
            raise RunError(f"step {step}: weights are not finite; not saved over {latest}")
        try:
            path = self.manager.save(checkpoint_number=step)
        except (OSError, tf.errors.OpError) as e:
            if is_peer_failure(e, self.gan.distribute_strategy):
                raise  # a lost worker, not a bad disk: train() reports it
            workdir.remove_partial_checkpoint(self.manager.directory, step)
            needed = workdir.checkpoint_size(latest, self.gan.weights + self._optimizer_vars())
            cause, fix = workdir.write_failure(e, self.manager.directory, needed)
            raise RunError(f"could not write the step-{step} checkpoint in "
                           f"{self.manager.directory}: {cause}; its partial files were removed "
                           f"and {latest or 'no earlier checkpoint'} is intact: {fix}, then "
                           "rerun the same command to resume") from None
        self.saved_step = step
        return path

    def _optimizer_vars(self):
        return list(self.gan.d_optimizer.variables) + list(self.gan.g_optimizer.variables)


class StopOnSignal(keras.callbacks.Callback):
    """First Ctrl-C (SIGINT) or SIGTERM: finish the current call (its --steps_per_execution
    steps), then stop so the run can checkpoint and exit. A second Ctrl-C interrupts at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        super().__init__()
        self.received = None
        self._previous = {}

    def _handle(self, signum, frame):
        self.received = signal.Signals(signum).name
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

    def on_train_begin(self, logs=None):
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)

    def on_train_batch_end(self, batch, logs=None):
        if self.received:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}
