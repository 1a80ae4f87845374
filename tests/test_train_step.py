"""Training-step behaviours on tiny data: d_steps, WGAN clipping, the two generator costs, noise,
K steps per call. (Every variant's logged numbers are pinned in test_step_logs.py.)"""
import contextlib
import dataclasses
import glob
import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

import backends
from data.datasets import load, make_train_dataset
from models.variants import VARIANTS
from training.config import TOY_STEPS_PER_EXECUTION, Config, ConfigError, resolve
from training.callbacks import ProgressLines, ScalarLogger
from training.loop import build_gan, chunk_steps, split_for_d_steps, train

from test_resume import checkpoint_state, saved_steps
from test_step_logs import BASE_KEYS


def fit_steps(config, steps):
    config = resolve(config)
    variant = config.variant
    data = load(config.dataset)
    gan = build_gan(config, data.spec.shape, data.spec.num_classes)
    dataset = split_for_d_steps(make_train_dataset(data, config.batch_size * variant.d_steps,
                                                   config.seed), config.batch_size,
                                variant.d_steps)
    history = gan.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    return gan, {k: v[-1] for k, v in history.history.items()}


def test_d_steps_flag_sets_discriminator_updates_per_generator_update(make_config):
    gan, _ = fit_steps(make_config(model="gan", d_steps=3), steps=2)
    assert int(gan.d_optimizer.iterations.numpy()) == 6
    assert int(gan.g_optimizer.iterations.numpy()) == 2


@pytest.mark.parametrize("model", ["wgan", "wgan_gp"])
def test_critic_updates_in_a_loop_equal_them_unrolled(make_config, model):
    """Without XLA, critic updates 2..d_steps run in a traced loop (one trace, not d_steps - 1);
    the numbers are those of the updates written out one by one, to float32 rounding (the two
    graphs' arithmetic is arranged differently: wgan_gp's logs differ in the 7th digit)."""
    config = resolve(make_config(model=model, d_steps=3))
    variant = config.variant
    data = load(config.dataset)
    x, y = next(iter(split_for_d_steps(make_train_dataset(data, 8 * 3, 0), 8, 3)))
    weights, logs = [], []
    for unroll in (False, True):
        gan = build_gan(config, data.spec.shape, data.spec.num_classes)
        step = tf.function(gan.train_step)
        with backends.unrolled() if unroll else contextlib.nullcontext():  # traced in the first
            for _ in range(2):
                out = step((x, y))
        logs.append({k: float(v) for k, v in out.items()})
        weights.append([w.numpy() for w in gan.discriminator.weights + gan.generator.weights])
        assert int(gan.d_optimizer.iterations.numpy()) == 6
        ops = {op.type for op in step.get_concrete_function((x, y)).graph.get_operations()}
        assert ("While" in ops or "StatelessWhile" in ops) != unroll
    # Under XLA the updates stay unrolled (its step is faster so).
    xla = build_gan(config, data.spec.shape, data.spec.num_classes, jit_compile=True)
    graph = tf.function(xla.train_step, jit_compile=True).get_concrete_function((x, y)).graph
    assert xla.jit_compile and not {"While", "StatelessWhile"} & {
        op.type for op in graph.get_operations()}
    assert logs[0].keys() == logs[1].keys()
    for name in logs[0]:
        assert logs[0][name] == pytest.approx(logs[1][name], rel=1e-5, abs=1e-6), name
    for looped, unrolled in zip(*weights):
        np.testing.assert_allclose(looped, unrolled, rtol=1e-5, atol=1e-6)


def _one_batch(config, variant, data):
    return next(iter(split_for_d_steps(make_train_dataset(data, config.batch_size * variant.d_steps,
                                                          0), config.batch_size, variant.d_steps)))


def test_each_network_changes_only_in_its_own_update(make_config):
    """D's update moves D only and G's moves G only: with G's learning rate at 0 a step leaves
    G's weights as they were and moves D exactly as a full step does (D's update comes first and
    never reads G's); with D's at 0, D stays and G moves, and it moves otherwise than in a full
    step, because G's update reads the D that D's update just made (Algorithm 1's order). (G's
    batch-norm moving statistics are not weights: they move whenever G runs in training mode.)"""
    config = resolve(make_config(model="dcgan"))
    variant = config.variant
    data = load(config.dataset)
    batch = _one_batch(config, variant, data)
    template = build_gan(config, data.spec.shape, data.spec.num_classes)
    after = {}
    for frozen in (None, "g", "d"):
        gan = build_gan(config, data.spec.shape, data.spec.num_classes)
        gan.generator.set_weights(template.generator.get_weights())
        gan.discriminator.set_weights(template.discriminator.get_weights())
        if frozen:
            getattr(gan, frozen + "_optimizer").learning_rate.assign(0.0)
        gan.train_step(batch)
        after[frozen] = ([w.numpy() for w in gan.generator.trainable_weights],
                         [w.numpy() for w in gan.discriminator.trainable_weights])
    g0 = [w.numpy() for w in template.generator.trainable_weights]
    d0 = [w.numpy() for w in template.discriminator.trainable_weights]

    def same(a, b):
        return all(np.array_equal(x, y) for x, y in zip(a, b))

    assert not same(after[None][0], g0) and not same(after[None][1], d0)
    assert same(after["g"][0], g0) and same(after["g"][1], after[None][1])
    assert same(after["d"][1], d0) and not same(after["d"][0], g0)
    assert not same(after["d"][0], after[None][0])


def _softplus(x):
    return np.logaddexp(0.0, x)


@pytest.mark.parametrize("loss", ["minimax", "non_saturating"])
def test_each_update_draws_its_noise_from_the_run_seed_the_step_and_its_place(make_config, loss):
    """Update i of step s draws z from the stateless seed fold_in([run seed, s], i) (D's updates
    i < d_steps, then G's at i = d_steps), for the global batch; D's loss is computed with the G
    and D from before the step and G's with the updated D. The logged d_adv and g_adv equal the
    papers' formulas evaluated on that noise, here with numpy, to float32 rounding:
    d_adv = -log D(x) - log(1 - D(G(z_0))), and g_adv = log(1 - D(G(z_1))) (minimax) or
    -log D(G(z_1)) (non-saturating)."""
    config = resolve(make_config(model="dcgan", seed=3, loss=loss))
    variant = config.variant
    data = load(config.dataset)
    gan = build_gan(config, data.spec.shape, data.spec.num_classes)
    images, labels = _one_batch(config, variant, data)
    gan.step.assign(5)

    def z(i):
        seed = tf.random.experimental.stateless_fold_in(tf.constant([3, 5], tf.int64), i,
                                                        alg="philox")
        return gan.latent.sample(config.batch_size, seed)

    def logits(x):
        return gan.discriminator(x, training=True)["logits"].numpy().ravel().astype(np.float64)

    def fake(i):
        return gan.generator(gan.latent.generator_input(z(i)), training=True)

    g_before = gan.generator.get_weights()
    real_logits, fake_logits = logits(images[:, 0]), logits(fake(0))
    d_adv = np.mean(_softplus(-real_logits) + _softplus(fake_logits))
    logs = {k: float(v) for k, v in gan.train_step((images, labels)).items()}
    assert int(gan.step.numpy()) == 6
    gan.generator.set_weights(g_before)  # G's cost is taken before G's update, after D's
    f = logits(fake(1))
    g_adv = np.mean(-_softplus(f)) if loss == "minimax" else np.mean(_softplus(-f))
    assert logs["d_adv"] == pytest.approx(d_adv, rel=1e-5)
    assert logs["g_adv"] == pytest.approx(g_adv, rel=1e-5)
    assert (logs["g_adv"] < 0) == (loss == "minimax")
    # Another step, another run seed or another place draws other numbers.
    other_step = tf.random.experimental.stateless_fold_in(tf.constant([3, 6], tf.int64), 0,
                                                          alg="philox")
    assert not np.allclose(z(0)["z"], z(1)["z"])
    assert not np.allclose(z(0)["z"], gan.latent.sample(config.batch_size, other_step)["z"])


def test_d_steps_updates_draw_places_0_to_k_minus_1_and_g_draws_place_k(make_config,
                                                                         monkeypatch):
    """With d_steps = 3, the step draws the noise of places 0, 1, 2 (D) and 3 (G) and no other."""
    config = resolve(make_config(model="wgan", d_steps=3, seed=4))
    variant = config.variant
    data = load(config.dataset)
    gan = build_gan(config, data.spec.shape, data.spec.num_classes)
    gan.step.assign(2)
    drawn, sample = [], type(gan.latent).sample

    def recording_sample(latent, size, seed):
        drawn.append((size, tuple(np.asarray(seed).tolist())))
        return sample(latent, size, seed)

    monkeypatch.setattr(type(gan.latent), "sample", recording_sample)
    gan.train_step(_one_batch(config, variant, data))
    places = [tuple(tf.random.experimental.stateless_fold_in(
        tf.constant([4, 2], tf.int64), i, alg="philox").numpy().tolist()) for i in range(4)]
    assert drawn == [(config.batch_size, p) for p in places]


def test_wgan_critic_weights_stay_within_clip_bound(make_config):
    gan, _ = fit_steps(make_config(model="wgan", d_lr=0.1), steps=2)  # large lr: clipping must act
    c = VARIANTS["wgan"].clip_value
    values = np.concatenate([w.numpy().ravel() for w in gan.discriminator.trainable_weights])
    assert np.max(np.abs(values)) <= c + 1e-7
    assert np.max(np.abs(values)) == pytest.approx(c)  # the bound is reached, so it clipped


def test_wgan_gp_critic_has_no_batch_norm(make_config):
    config = resolve(make_config(model="wgan_gp"))
    variant = config.variant
    gan = build_gan(config, (28, 28, 1), 10)
    kinds = {type(layer).__name__ for layer in gan.discriminator.layers}
    assert "BatchNormalization" not in kinds and "LayerNormalization" in kinds


def test_train_logs_are_per_step_values(make_config, tmp_path):
    logs = train(make_config(model="gan", train_steps=3, steps_per_epoch=3), verbose=0)
    assert set(logs) == BASE_KEYS and all(np.isfinite(v) for v in logs.values())
    steps = set()
    for path in glob.glob(str(tmp_path / "gan" / "train" / "events*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == "loss/d_loss":
                    steps.add(event.step)
    assert steps == {1, 2, 3}


def _scalar_events(workdir):
    """{(tag, step): value} of a run's TensorBoard scalars."""
    found = {}
    for path in glob.glob(os.path.join(workdir, "train", "events*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    found[value.tag, event.step] = float(tf.make_ndarray(value.tensor))
    return found


@pytest.mark.parametrize("model,dataset,k", [("gan", "ring8", 4), ("acgan", "mnist_5k", 2)])
def test_k_steps_per_call_train_exactly_what_k_calls_of_one_step_train(make_config, model,
                                                                       dataset, k):
    """--steps_per_execution=K runs K iterations of Algorithm 1 in one traced loop (the toy
    step under XLA, as on ring8 by default; AC-GAN's labels are sliced per step too): the
    checkpoint, every step's TensorBoard scalars (AC-GAN's class terms among them) and the
    returned logs are those of one step per call, bit for bit."""
    runs = {}
    for per_call in (1, k):
        config = make_config(model=model, dataset=dataset, train_steps=4 * k,
                             steps_per_epoch=2 * k, checkpoint_every=2 * k,
                             steps_per_execution=per_call,
                             workdir=f"{make_config().workdir}_{per_call}",
                             **({"jit_compile": None, "width": 32} if dataset == "ring8" else {}))
        logs = train(config, verbose=0)
        with open(os.path.join(config.workdir, "config.json")) as f:
            assert json.load(f)["steps_per_execution"] == per_call
        runs[per_call] = (logs, _scalar_events(config.workdir), checkpoint_state(config.workdir),
                          saved_steps(config.workdir))
    (logs_1, events_1, state_1, saved_1), (logs_k, events_k, state_k, saved_k) = runs[1], runs[k]
    assert logs_k == logs_1
    assert {step for _, step in events_k} == set(range(1, 4 * k + 1))
    assert events_k == events_1
    assert saved_k == saved_1 == [2 * k, 4 * k]
    assert state_k.keys() == state_1.keys()
    for name in state_1:
        np.testing.assert_array_equal(state_k[name], state_1[name], err_msg=name)


def test_the_call_loop_is_one_traced_while_loop_of_k_iterations(make_config):
    config = resolve(make_config(model="dcgan"))
    variant = config.variant
    data = load(config.dataset)
    gan = build_gan(config, data.spec.shape, data.spec.num_classes,
                    steps_per_execution=3)
    x, y = next(iter(chunk_steps(_dataset(config, variant, data), 3)))
    assert x.shape[:2] == (config.batch_size, 3)
    step = tf.function(gan.train_step)
    logs = step((x, y))
    assert int(gan.step.numpy()) == 3 and int(gan.g_optimizer.iterations.numpy()) == 3
    assert all(v.shape == (3,) for v in logs.values())
    ops = {op.type for op in step.get_concrete_function((x, y)).graph.get_operations()}
    assert "While" in ops or "StatelessWhile" in ops


def _dataset(config, variant, data):
    return split_for_d_steps(make_train_dataset(data, config.batch_size * variant.d_steps, 0),
                             config.batch_size, variant.d_steps)


def test_steps_per_execution_default_divides_every_cadence_and_a_given_one_must(tmp_path):
    def resolved(**fields):
        return resolve(Config(workdir=str(tmp_path), **fields)).steps_per_execution

    assert resolved(model="gan", dataset="ring8") == TOY_STEPS_PER_EXECUTION
    # The largest divisor of the default that divides the cadences.
    assert resolved(model="gan", dataset="ring8", checkpoint_every=30) == math.gcd(
        TOY_STEPS_PER_EXECUTION, 30)
    assert resolved(model="gan", dataset="ring8", train_steps=101) == 1
    assert resolved(model="gan", dataset="ring8", strategy="mirrored") == 1
    assert resolved(model="dcgan", dataset="mnist_5k") == 1
    assert resolved(model="dcgan", dataset="mnist_5k", steps_per_execution=4) == 4
    with pytest.raises(ConfigError, match=r"^--checkpoint_every=30 is not a multiple of "
                                          r"--steps_per_execution=25 .*pass a multiple of 25"):
        resolved(model="gan", dataset="ring8", checkpoint_every=30, steps_per_execution=25)
    with pytest.raises(ConfigError, match="--steps_per_execution must be positive"):
        resolved(model="gan", dataset="ring8", steps_per_execution=0)


def test_a_resume_at_a_step_k_does_not_divide_takes_a_divisor_or_is_refused(make_config):
    """A run stopped at step 3 (one step per call) resumed with K = 2 asked for is refused in
    one line before any step; with K left to its default, the resume takes gcd(K, 3)."""
    config = make_config(model="gan", dataset="ring8", train_steps=3, steps_per_epoch=3,
                         checkpoint_every=3, steps_per_execution=1)
    train(config, verbose=0)
    before = checkpoint_state(config.workdir)
    longer = dataclasses.replace(config, train_steps=12, steps_per_epoch=6, checkpoint_every=6)
    with pytest.raises(ConfigError, match=r"checkpoint is at step 3, not a multiple of "
                                          r"--steps_per_execution=2: resume with a "
                                          r"--steps_per_execution that divides 3"):
        train(dataclasses.replace(longer, steps_per_execution=2), verbose=0)
    assert saved_steps(config.workdir) == [3]
    with open(os.path.join(config.workdir, "config.json")) as f:
        assert json.load(f)["train_steps"] == 3  # nothing of the refused run was written
    for name, value in checkpoint_state(config.workdir).items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    train(dataclasses.replace(longer, steps_per_execution=None), verbose=0)
    assert saved_steps(config.workdir) == [3, 6, 12]


def test_scalars_and_progress_lines_of_a_call_of_k_steps_keep_their_own_cadence(tmp_path,
                                                                                 capsys):
    """--log_every and --print_every need not be multiples of K: a call's [K] logs are split
    into its steps, each written (or printed) at its own step number."""
    writer = tf.summary.create_file_writer(str(tmp_path / "train"))
    logger = ScalarLogger(writer, start_step=10, every=3, steps_per_call=4)
    lines = ProgressLines(start_step=10, last_step=17, every=5, steps_per_call=4)
    for call in range(2):  # steps 11-14, then 15-18
        logs = {"d_loss": np.arange(4) + 10.0 * call, "g_loss": -np.arange(4.0)}
        logger.on_train_batch_end(call, logs)
        lines.on_train_batch_end(call, logs)
    writer.close()
    events = _scalar_events(str(tmp_path))
    assert events == {("d_loss", 12): 1.0, ("g_loss", 12): -1.0, ("d_loss", 15): 10.0,
                      ("g_loss", 15): 0.0, ("d_loss", 18): 13.0, ("g_loss", 18): -3.0}
    printed = [line.split(" (")[0] for line in capsys.readouterr().out.splitlines()]
    assert printed == ["step 15/17: d_loss=10 g_loss=-0", "step 17/17: d_loss=12 g_loss=-2"]
