"""Resume and its refusals: a checkpoint restores networks, optimizers and step; a rerun resumes
where the last one stopped and ends where an uninterrupted run ends; a run directory that holds
another run (another model, dataset, network or declared setting) is refused in one line and left
as it was; a damaged checkpoint is reported with the fix. (Killing a run for real and resuming it:
test_robustness.py.)"""
import dataclasses
import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from data.datasets import load, make_train_dataset
from training import workdir
from training.callbacks import RunError
from training.checkpoints import ArrayCheckpoints, latest, make_checkpoint, restore, step_of
from training.config import Config, ConfigError, resolve, resume_mismatch
from training.loop import build_gan, split_for_d_steps, train

from test_cli import run


def checkpoint_state(workdir):
    """{variable name: value} of the latest checkpoint: G, D, both optimizers, step (either
    format: a tf.train.Checkpoint, or the `ckpt-N.npz` of JAX and PyTorch runs)."""
    path = latest(os.path.join(workdir, "checkpoints"))
    if path.endswith(".npz"):
        with np.load(path) as saved:
            return {name: saved[name] for name in saved.files if name != "manifest"}
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)
            if not name.startswith(("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter"))}


def saved_steps(workdir):
    """The steps of the checkpoints in `workdir`, of either format."""
    return sorted(step_of(p.removesuffix(".index")) for p in glob.glob(
        os.path.join(workdir, "checkpoints", "ckpt-*.index")) + glob.glob(
        os.path.join(workdir, "checkpoints", "ckpt-*.npz")))


def _trained_gan(config, steps):
    config = resolve(config)
    variant = config.variant
    data = load(config.dataset)
    gan = build_gan(config, data.spec.shape, data.spec.num_classes)
    gan.fit(split_for_d_steps(make_train_dataset(data, config.batch_size * variant.d_steps, 0),
                              config.batch_size, variant.d_steps),
            steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    return config, variant, data, gan


def test_checkpoint_round_trip_restores_networks_optimizers_and_step(make_config, tmp_path):
    config, variant, data, gan = _trained_gan(make_config(model="acgan"), steps=3)
    path = make_checkpoint(gan).save(str(tmp_path / "ckpt" / "ckpt"))

    fresh = build_gan(config, data.spec.shape, data.spec.num_classes)
    assert int(fresh.d_optimizer.iterations.numpy()) == 0
    make_checkpoint(fresh).restore(path).assert_existing_objects_matched()
    for opt_name in ("d_optimizer", "g_optimizer"):
        saved, restored = getattr(gan, opt_name).variables, getattr(fresh, opt_name).variables
        assert len(saved) == len(restored) > 2  # iterations, learning rate, Adam's m and v slots
        for a, b in zip(saved, restored):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert any(np.any(v.numpy() != 0) for v in restored[2:])  # the slots hold real state
    for a, b in zip(gan.generator.weights + gan.discriminator.weights,
                    fresh.generator.weights + fresh.discriminator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())  # incl. batch-norm statistics
    assert int(fresh.step.numpy()) == 3


@pytest.mark.parametrize("damage", ["truncate", "garbage", "other model"])
def test_the_array_format_of_jax_and_pytorch_runs_round_trips_and_refuses_damage(
        make_config, tmp_path, damage):
    """`ArrayCheckpoints` (ckpt-N.npz), run here on TensorFlow's variables: it restores every
    variable bit for bit, ignores what a killed save left (`ckpt-N.npz.tmp`), and a damaged
    file gets restore's one-line refusal and is left as it is. (A JAX run killed for real and
    resumed bit for bit: test_robustness.py.)"""
    config, variant, data, gan = _trained_gan(make_config(model="acgan"), steps=3)
    directory = str(tmp_path / "checkpoints")
    path = ArrayCheckpoints(gan, directory, 2).save(3)
    (tmp_path / "checkpoints" / "ckpt-4.npz.tmp").write_bytes(b"a killed save")
    fresh = build_gan(config, data.spec.shape, data.spec.num_classes)
    manager = ArrayCheckpoints(fresh, directory, 2)
    assert manager.latest_checkpoint == path and restore(manager, manager) == path
    assert len(gan.variables) > 20 and int(fresh.step.numpy()) == 3
    for a, b in zip(gan.variables + gan.d_optimizer.variables + gan.g_optimizer.variables,
                    fresh.variables + fresh.d_optimizer.variables + fresh.g_optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)

    if damage == "other model":
        other = build_gan(resolve(make_config(model="gan")), data.spec.shape,
                          data.spec.num_classes)
        manager = ArrayCheckpoints(other, directory, 2)
    else:
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(size // 2) if damage == "truncate" else f.write(b"\xff" * size)
    before = open(path, "rb").read()
    with pytest.raises(RunError, match=r"cannot restore .*ckpt-3\.npz \(.*\); it is corrupt, "
                       r"truncated or from another model: delete its files to resume from "
                       r"scratch, or pass --overwrite to start over"):
        restore(manager, manager)
    assert open(path, "rb").read() == before


def _checkpoint_state(workdir):
    """{name: value} of every variable in the latest checkpoint (G, D, optimizers, step)."""
    path = tf.train.latest_checkpoint(workdir + "/checkpoints")
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)
            if not name.startswith(("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter"))}


@pytest.mark.parametrize("extra", [{}, {"augment": "color,translation,cutout", "ema": 0.9}],
                         ids=["plain", "augment_ema"])
def test_rerun_resumes_from_latest_checkpoint_and_matches_uninterrupted_run(make_config,
                                                                           tmp_path, extra):
    # Two critic updates per generator update (WGAN-GP's are 5): the same loop, and most of a
    # tiny run's time is tracing the unrolled updates, three times here. The augmentation's
    # draws are functions of (seed, step) like the noise; the average is in the checkpoint.
    interrupted = make_config(model="wgan_gp", workdir=str(tmp_path / "interrupted"),
                              train_steps=2, steps_per_epoch=2, d_steps=2, **extra)
    train(interrupted, verbose=0)
    first = _checkpoint_state(interrupted.workdir)
    interrupted.train_steps = 4
    train(interrupted, verbose=0)  # same workdir: resumes at step 2
    resumed = _checkpoint_state(interrupted.workdir)

    straight = make_config(model="wgan_gp", train_steps=4, steps_per_epoch=2, d_steps=2, **extra)
    train(straight, verbose=0)
    reference = _checkpoint_state(straight.workdir)

    step_key = [k for k in reference if k.startswith("step")][0]
    assert first[step_key] == 2 and resumed[step_key] == 4 == reference[step_key]
    assert set(resumed) == set(reference)
    for name in reference:
        # Bit-exact on CPU: data and noise are functions of (seed, step), and the checkpoint
        # holds every piece of state the step reads.
        np.testing.assert_array_equal(resumed[name], reference[name], err_msg=name)
    assert any(not np.allclose(first[k], resumed[k]) for k in reference if k != step_key)


def test_rerun_of_a_finished_run_trains_nothing(make_config):
    config = make_config(model="gan", train_steps=2, steps_per_epoch=2)
    train(config, verbose=0)
    before = _checkpoint_state(config.workdir)
    assert train(config, verbose=0) == {}
    after = _checkpoint_state(config.workdir)
    for name in before:
        np.testing.assert_array_equal(before[name], after[name])


def test_a_callback_that_stops_early_gets_a_checkpoint_and_an_export(make_config):
    import os

    import keras

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    config = make_config(model="gan", dataset="ring8", train_steps=8, steps_per_epoch=2)
    train(config, verbose=0, callbacks=[StopAfterFirstEpoch()])
    assert tf.train.latest_checkpoint(os.path.join(config.workdir, "checkpoints")).endswith("-2")
    assert os.path.exists(os.path.join(config.workdir, "saved_model", "saved_model.pb"))


def test_resume_with_another_model_is_refused_and_leaves_the_run(tmp_path):
    workdir = tmp_path / "run"
    first = run("train.py", "--model=gan", "--dataset=ring8", f"--workdir={workdir}",
                "--train_steps=2", "--steps_per_epoch=2", "--width=8", "--batch_size=8",
                "--nojit_compile", cwd=tmp_path)  # the refusal is the test, not the step
    assert first.returncode == 0, first.stderr[-3000:]
    before = (workdir / "config.json").read_text()
    second = run("train.py", "--model=wgan", "--dataset=ring8", f"--workdir={workdir}",
                 cwd=tmp_path)
    assert second.returncode != 0 and "Traceback" not in second.stderr
    assert "holds a run with model='gan'" in second.stderr
    assert (workdir / "config.json").read_text() == before


def test_mismatching_resume_is_refused_unless_overwrite(make_config):
    config = make_config(model="gan", dataset="ring8", train_steps=2)
    train(config, verbose=0)
    for change in ({"latent_dim": 7}, {"model": "wgan"}, {"dataset": "grid25"}):
        other = make_config(model=change.get("model", "gan"),
                            dataset=change.get("dataset", "ring8"), train_steps=2,
                            latent_dim=change.get("latent_dim"), workdir=config.workdir)
        with pytest.raises(ConfigError, match="holds a run with .*--overwrite"):
            train(other, verbose=0)
    assert saved_steps(config.workdir) == [2]
    other = make_config(model="gan", dataset="ring8", train_steps=2, latent_dim=7,
                        workdir=config.workdir, overwrite=True)
    train(other, verbose=0)
    shapes = [v.shape for v in checkpoint_state(config.workdir).values()]
    assert (7, 8) in shapes  # the new run's G: latent 7 -> 8 units


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_checkpoint_is_reported_with_the_fix(make_config, damage):
    config = make_config(model="gan", dataset="ring8", train_steps=2)
    train(config, verbose=0)
    data_file = glob.glob(os.path.join(config.workdir, "checkpoints", "ckpt-2.data*"))[0]
    size = os.path.getsize(data_file)
    with open(data_file, "r+b") as f:
        if damage == "truncate":
            f.truncate(size // 2)
        else:
            f.write(b"\xff" * size)
    config.train_steps = 4
    with pytest.raises(RunError, match="cannot restore .*ckpt-2.*--overwrite"):
        train(config, verbose=0)
    assert os.path.getsize(data_file) == (size // 2 if damage == "truncate" else size)


def test_a_run_resumes_only_with_the_networks_it_was_trained_with(tmp_path):
    from training.loop import train
    fields = dict(model="dcgan", dataset="mnist_5k", workdir=str(tmp_path / "run"), train_steps=1,
                  batch_size=8, width=8, jit_compile=False)
    train(Config(**fields, g_norm="none", d_norm="none"), verbose=0)
    with pytest.raises(ConfigError, match="holds a run with d_norm='none', not 'batch'"):
        train(Config(**dict(fields, train_steps=2)), verbose=0)
    train(Config(**dict(fields, train_steps=2), g_norm="none", d_norm="none"), verbose=0)


def _resolved(tmp_path, **fields):
    config = resolve(Config(model="dcgan", dataset="mnist_5k", workdir=str(tmp_path),
                            **fields))
    return dataclasses.replace(config, dataset_used="mnist_5k")


@pytest.mark.parametrize("field", [f for f in dataclasses.fields(Config)
                                   if f.metadata.get("resume")], ids=lambda f: f.name)
def test_resume_identity_is_the_declared_settings(field, tmp_path):
    """A run directory is refused, in one line, when a `resume` setting differs; a setting an
    older config.json did not record is not compared ("same_if_recorded"), or counts as off
    ("same_or_off") or as the variant's own value ("same_or_row")."""
    config = _resolved(tmp_path)
    workdir.prepare(config)
    value = getattr(config, field.name)
    if field.name in ("d_norm", "g_norm"):
        changed = "none" if value != "none" else "batch"
    elif isinstance(value, str):
        changed = value + "_other" if value else "mlp"
    elif isinstance(value, float):
        changed = value + 0.5
    else:  # int, or None (image_size: the dataset's own)
        changed = (value or 0) + 1
    asked = dataclasses.replace(config, **{field.name: changed})
    assert resume_mismatch(config, asked) == (field.name, value, changed)
    with pytest.raises(ConfigError, match=f"holds a run with {field.name}="):
        workdir.prepare(asked)
    # An older config.json without the setting: compared only when it must always match.
    with open(tmp_path / "config.json") as f:
        record = json.load(f)
    record[field.name] = None
    with open(tmp_path / "config.json", "w") as f:
        json.dump(record, f)
    if field.metadata["resume"] == "same_if_recorded":
        workdir.prepare(asked)
    elif field.metadata["resume"] == "same_or_off":  # an older run had it off: only off resumes
        neutral = field.metadata["neutral"]
        with pytest.raises(ConfigError, match=f"holds a run with {field.name}={neutral!r}"):
            workdir.prepare(asked)
        workdir.prepare(dataclasses.replace(config, **{field.name: neutral}))
    elif field.metadata["resume"] == "same_or_row":  # an older run had the variant's own value
        with pytest.raises(ConfigError, match=f"holds a run with {field.name}={value!r}"):
            workdir.prepare(asked)
        workdir.prepare(config)
    else:
        with pytest.raises(ConfigError, match=f"holds a run with {field.name}=None"):
            workdir.prepare(asked)


def test_settings_without_resume_rule_do_not_block_a_resume(tmp_path):
    config = _resolved(tmp_path)
    workdir.prepare(config)
    free = [f.name for f in dataclasses.fields(Config) if not f.metadata.get("resume")]
    assert {"train_steps", "d_lr", "g_lr", "log_every", "checkpoint_every"} <= set(free)
    workdir.prepare(dataclasses.replace(config, train_steps=config.train_steps + 100, d_lr=1e-3,
                                        log_every=5))


def test_the_resume_identity_is_the_one_old_run_directories_were_checked_against():
    """Run directories written before the settings were declared once must resume the same."""
    rules = {f.name: f.metadata.get("resume") for f in dataclasses.fields(Config)}
    assert {n for n, r in rules.items() if r == "same"} == {
        "model", "dataset_used", "image_size", "latent_dim", "width", "batch_size", "d_steps",
        "seed"}
    assert {n for n, r in rules.items() if r == "same_if_recorded"} == {
        "data_scale", "train_points", "d_norm", "g_norm", "g_arch", "g_width", "train_examples"}
    # Settings added since, which an older run trained without (and the backend: an older run
    # trained on TensorFlow).
    assert {n for n, r in rules.items() if r == "same_or_off"} == {"augment", "ema", "backend"}
