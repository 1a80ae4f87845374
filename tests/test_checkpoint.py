"""Checkpoints restore both optimizers' state; a rerun resumes and ends at the same step."""
import numpy as np
import tensorflow as tf

from data.datasets import load, make_train_dataset
from training.config import resolve
from training.loop import build_gan, split_for_d_steps, train
from training.checkpoints import make_checkpoint


def _trained_gan(config, steps):
    config, variant = resolve(config)
    data = load(config.dataset)
    gan = build_gan(config, variant, data.spec.shape, data.spec.num_classes)
    gan.fit(split_for_d_steps(make_train_dataset(data, config.batch_size * variant.d_steps, 0),
                              config.batch_size, variant.d_steps),
            steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    return config, variant, data, gan


def test_checkpoint_round_trip_restores_networks_optimizers_and_step(make_config, tmp_path):
    config, variant, data, gan = _trained_gan(make_config(model="acgan"), steps=3)
    path = make_checkpoint(gan).save(str(tmp_path / "ckpt" / "ckpt"))

    fresh = build_gan(config, variant, data.spec.shape, data.spec.num_classes)
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


def _checkpoint_state(workdir):
    """{name: value} of every variable in the latest checkpoint (G, D, optimizers, step)."""
    path = tf.train.latest_checkpoint(workdir + "/checkpoints")
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)
            if not name.startswith(("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter"))}


def test_rerun_resumes_from_latest_checkpoint_and_matches_uninterrupted_run(make_config,
                                                                           tmp_path):
    # Two critic updates per generator update (WGAN-GP's are 5): the same loop, and most of a
    # tiny run's time is tracing the unrolled updates, three times here.
    interrupted = make_config(model="wgan_gp", workdir=str(tmp_path / "interrupted"),
                              train_steps=2, steps_per_epoch=2, d_steps=2)
    train(interrupted, verbose=0)
    first = _checkpoint_state(interrupted.workdir)
    interrupted.train_steps = 4
    train(interrupted, verbose=0)  # same workdir: resumes at step 2
    resumed = _checkpoint_state(interrupted.workdir)

    straight = make_config(model="wgan_gp", train_steps=4, steps_per_epoch=2, d_steps=2)
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
