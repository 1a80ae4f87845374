"""Strategies proven by parity: 2 mirrored replicas train exactly what 1 device trains; XLA and
mixed precision run; a two-worker cluster on 127.0.0.1 checkpoints from the chief alone."""
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import backends
from data.datasets import load, make_train_dataset
from models.variants import VARIANTS
from training.config import Config, resolve
from training.loop import build_gan, chunk_steps, split_for_d_steps
from training.checkpoints import make_checkpoint
from training.xla import onednn_enabled, resolve_jit_compile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The cross-replica all-reduce reorders float sums; nothing else differs. Logged values agree
# to 1e-5 relative. Weights get an absolute 1e-5 (a tenth of one Adam step at lr 1e-4): Adam's
# first updates are ~lr * g / |g|, so where a gradient is ~0 its last-bit differences show.
RTOL, ATOL = 1e-5, 1e-6
# The critics' five updates per generator update are unrolled in the traced step, and tracing
# is most of a tiny run's time: two updates exercise the same loop, at well under half the cost.
CRITIC_STEPS = 2
WEIGHT_ATOL = 1e-5
# Gradient norms sum squares over every weight: with the official InfoGAN nets' batch norm
# epsilon (1e-5, where Keras' default is 1e-3) on 4-example replica shares, the reordered sums of
# the synchronized moments reach the norm at ~3e-5 relative (measured), nothing more.
GRAD_NORM_RTOL = 1e-4
# Those nets' units of tiny batch variance amplify the reordered sums in their gradients too, so
# Adam's slots (moving averages of gradients) agree only as a whole: each slot within 1.1e-2 of
# its norm measured (AMD EPYC; elementwise up to 5e-3 where the slot is ~2e-2); a wrong
# distributed step (a loss not divided by the global batch, noise not sliced from the global
# draw) moves them by their whole size. The slots of a bias before a batch norm (gradient 0 in
# exact arithmetic, above) hold round-off of either sign: up to 1e-4 in norm, measured, where
# the other slots' norms are 1e-2 to 2.6.
SLOT_RTOL_INFOGAN, SLOT_ATOL_INFOGAN = 5e-2, 1e-3


def fit_under(strategy, config, steps=2, jit_compile=False, steps_per_call=1):
    """The GAN after `steps` steps under `strategy`, `steps_per_call` per call, and the last
    step's logs."""
    if config.d_steps is None and VARIANTS[config.model].d_steps > CRITIC_STEPS:
        config = dataclasses.replace(config, d_steps=CRITIC_STEPS)
    config = resolve(config)
    variant = config.variant
    data = load(config.dataset)
    with strategy.scope():
        gan = build_gan(config, data.spec.shape, data.spec.num_classes, jit_compile,
                        steps_per_execution=steps_per_call)
    dataset = chunk_steps(split_for_d_steps(
        make_train_dataset(data, config.batch_size * variant.d_steps, config.seed),
        config.batch_size, variant.d_steps), steps_per_call)
    history = gan.fit(dataset, steps_per_epoch=steps // steps_per_call, epochs=1, verbose=0,
                      shuffle=False)
    return gan, {k: float(np.asarray(v[-1]).reshape(-1)[-1]) for k, v in history.history.items()}


_MIRRORED = []


def mirrored():
    """One MirroredStrategy for the whole process: separate instances would reuse collective
    instance keys, and the collectives of one model would collide with another's."""
    if not _MIRRORED:
        _MIRRORED.append(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    return _MIRRORED[0]


# What each variant's parity run turns on beside the two replicas. The image variants that
# take the data-efficient options run with both (a test of them under the strategy: each
# replica draws its rows of the global batch's transforms, and the generator average is one);
# AC-GAN runs 2 steps per call there as well (under a strategy the K iterations of a call are
# unrolled, since a gradient sync cannot run in a traced loop; its labels are sliced per step
# too). The others run their defaults, the plain path. One run per variant: a run's tracing is
# most of its time.
PARITY = {
    "gan": {},
    "dcgan": {"augment": "color,translation,cutout", "ema": 0.9},
    "wgan": {},
    "wgan_gp": {"augment": "color,translation,cutout", "ema": 0.9},
    # InfoGAN's official nets normalize with epsilon 1e-5 (Keras: 1e-3): on 4-example replica
    # shares a unit's batch variance can be far below 1e-5's scale, and the all-reduce's
    # reordered sums are then amplified; 32 examples keep the comparison at roundoff.
    "infogan": {"batch_size": 32},
    "acgan": {"augment": "color,translation,cutout", "ema": 0.9, "steps_per_call": 2},
}


@pytest.mark.parametrize("model", list(VARIANTS))
def test_mirrored_two_replicas_equals_one_device(make_config, model):
    """2 replicas train what 1 device trains (one step per call there), with PARITY's options."""
    fields = dict(PARITY[model])
    per_call = fields.pop("steps_per_call", 1)
    config = make_config(model=model, **{"batch_size": 8, **fields})
    steps = 2 * per_call
    single, single_logs = fit_under(tf.distribute.get_strategy(), config, steps=steps)
    double, double_logs = fit_under(mirrored(), config, steps=steps, steps_per_call=per_call)
    assert double.distribute_strategy.num_replicas_in_sync == 2
    assert double.steps_per_call == per_call and int(double.step.numpy()) == steps
    assert set(single_logs) == set(double_logs)
    for name in single_logs:  # global means, not 1/N of them
        rtol = GRAD_NORM_RTOL if name.endswith("_grad_norm") else RTOL
        # ln 10 - CE: a difference of two ~2.3 values, so its error is relative to ln 10.
        atol = RTOL * np.log(10) if name == "mi_lower_bound" else ATOL
        np.testing.assert_allclose(double_logs[name], single_logs[name], rtol=rtol, atol=atol,
                                   err_msg=name)
    # The official InfoGAN nets put a bias (and weights fed by it) before every batch norm,
    # whose gradients are 0 in exact arithmetic: Adam's first steps move such weights by up to
    # lr either way on the sign of roundoff. There, weights agree to one step of each update.
    weight_atol = (2 * config.steps_per_epoch * max(double.variant.d_lr, double.variant.g_lr)
                   if model == "infogan" else WEIGHT_ATOL)
    for a, b in zip(single.generator.weights + single.discriminator.weights,
                    double.generator.weights + double.discriminator.weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=RTOL, atol=weight_atol,
                                   err_msg=a.path)
    for opt in ("d_optimizer", "g_optimizer"):
        for a, b in zip(getattr(single, opt).variables, getattr(double, opt).variables):
            if model != "infogan":
                np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=RTOL, atol=weight_atol,
                                           err_msg=a.path)
                continue
            difference = np.linalg.norm(b.numpy() - a.numpy())
            assert difference <= (SLOT_RTOL_INFOGAN * np.linalg.norm(a.numpy())
                                  + SLOT_ATOL_INFOGAN), a.path
    if fields.get("ema"):  # one average: its replicas' copies equal, and equal to one device's
        averaged = single.average.generator.weights
        assert averaged and len(averaged) == len(double.average.generator.weights)
        for a, b in zip(averaged, double.average.generator.weights):
            copies = [c.numpy() for c in double.distribute_strategy.experimental_local_results(
                b.value)]
            assert len(copies) == 2 and np.array_equal(copies[0], copies[1]), a.path
            np.testing.assert_allclose(copies[0], a.numpy(), rtol=RTOL, atol=WEIGHT_ATOL,
                                       err_msg=a.path)


# Trains each model 2 steps on one device, then under --strategy=mirrored on JAX (keras.
# distribution's DataParallel over 2 XLA host devices), and prints both runs' logs and weights.
# The step is compiled, as train.py compiles it on JAX (eagerly, each of its few hundred ops was
# compiled on its own: twice the CPU time).
JAX_DATA_PARALLEL = r"""
import json, sys
import keras, numpy as np
from data.datasets import load, make_train_dataset
from training.config import Config, resolve
from training.distribute import make_strategy
from training.loop import build_gan, split_for_d_steps
assert keras.backend.backend() == "jax" and len(keras.distribution.list_devices()) == 2
out = {}
for model, fields in json.loads(sys.argv[1]).items():
    config = resolve(Config(model=model, dataset="mnist_5k", workdir="", **fields))
    data = load(config.dataset)
    for name in ("default", "mirrored"):
        strategy = make_strategy(name, backend="jax")
        with strategy.scope():
            gan = build_gan(config, data.spec.shape, data.spec.num_classes, jit_compile=True)
            history = gan.fit(split_for_d_steps(make_train_dataset(
                data, config.batch_size * config.d_steps, config.seed), config.batch_size,
                config.d_steps), steps_per_epoch=2, epochs=1, verbose=0, shuffle=False)
        keras.distribution.set_distribution(None)
        out[f"{model}/{name}"] = {
            "replicas": strategy.num_replicas_in_sync,
            "devices": len(gan.generator.weights[0].value.sharding.device_set),
            "logs": {k: float(v[-1]) for k, v in history.history.items()},
            "weights": [[w.path, np.asarray(w.numpy()).tolist()] for w in
                        gan.variables + gan.d_optimizer.variables + gan.g_optimizer.variables]}
print("RESULT " + json.dumps(out))
"""
# One model, the most that one run can cover at the cost of two compiles: AC-GAN's labels, its
# D's batch norm and the generator average. (DiffAugment's per-row draws under replicas are
# tf.distribute's test above; under keras.distribution the step draws for the global batch.)
JAX_PARITY = {"acgan": {"batch_size": 8, "width": 8, "ema": 0.9}}


def test_jax_data_parallel_over_two_devices_equals_one_device():
    """On JAX, --strategy=mirrored is keras.distribution's DataParallel: over 2 XLA host
    devices (what --cpu_devices=2 makes), the step computes on the global batch sharded over
    them, batch norm's moments and the augment's and noise's draws included, so it trains what
    one device trains, up to the order of float sums (the tolerances of the tf.distribute test
    above)."""
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT,
               XLA_FLAGS="--xla_force_host_platform_device_count=2")
    result = subprocess.run([sys.executable, "-c", JAX_DATA_PARALLEL, json.dumps(JAX_PARITY)],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(result.stdout.split("RESULT ", 1)[1])
    for model in JAX_PARITY:
        single, double = runs[f"{model}/default"], runs[f"{model}/mirrored"]
        assert (single["replicas"], double["replicas"]) == (1, 2)
        assert (single["devices"], double["devices"]) == (1, 2)  # replicated on both
        assert set(single["logs"]) == set(double["logs"]) and "d_loss" in single["logs"]
        for name, value in single["logs"].items():
            rtol = GRAD_NORM_RTOL if name.endswith("_grad_norm") else RTOL
            np.testing.assert_allclose(double["logs"][name], value, rtol=rtol, atol=ATOL,
                                       err_msg=f"{model} {name}")
        # The same variables in the same order (the models' names differ: gan, gan_1).
        assert len(single["weights"]) == len(double["weights"]) > 20
        for (path, value), (_, other) in zip(single["weights"], double["weights"]):
            np.testing.assert_allclose(other, value, rtol=RTOL, atol=WEIGHT_ATOL,
                                       err_msg=f"{model} {path}")


@pytest.mark.parametrize("requested", [None, True, False])
def test_xla_falls_back_under_mirrored_with_one_line_unless_turned_off(capsys, requested):
    for network in ("mlp", "dcgan"):
        assert resolve_jit_compile(requested, mirrored(), network) is False
        out = capsys.readouterr().out
        if requested is False:
            assert out == ""
        else:
            assert out.count("\n") == 1 and "XLA is off" in out and "2 replicas" in out


def test_xla_default_on_one_cpu_is_the_measured_rule_and_the_flag_wins():
    one = tf.distribute.get_strategy()
    # docs/speed.md: on the 2-core CPU with TensorFlow's own kernels XLA sped up every step;
    # with oneDNN's kernels the convolutional steps were as fast or faster without it, but for
    # the gradient penalty's, and the MLP steps stayed faster with it.
    for onednn in (False, True):
        for penalty in (False, True):
            assert resolve_jit_compile(None, one, "mlp", onednn, penalty) is True
            assert resolve_jit_compile(None, one, "wgan_gp_toy", onednn, penalty) is True
        for network in ("dcgan", "infogan_mnist"):
            assert resolve_jit_compile(None, one, network, onednn) is (not onednn)
            assert resolve_jit_compile(None, one, network, onednn, True) is True
        for network in ("mlp", "dcgan"):
            for penalty in (False, True):
                assert resolve_jit_compile(True, one, network, onednn, penalty) is True
                assert resolve_jit_compile(False, one, network, onednn, penalty) is False
    # Unsaid, the process's own state decides.
    assert resolve_jit_compile(None, one, "dcgan") is (not onednn_enabled())


@pytest.mark.parametrize("value", [None, "0"])
def test_train_py_turns_onednn_on_before_tensorflow_loads_unless_told_not_to(value):
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if value is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = value
    out = subprocess.run([sys.executable, "-c", "import train; from training.xla import "
                          "onednn_enabled; print(onednn_enabled())"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == str(value is None)


def test_each_replica_draws_its_own_slice_of_the_global_noise(make_config):
    strategy = mirrored()
    config = resolve(make_config(model="acgan"))
    variant = config.variant
    with strategy.scope():
        gan = build_gan(config, (28, 28, 1), 10)
    draw = lambda: backends.own_rows(gan.latent.sample(8, [0, 5]), 4)  # noqa: E731
    first, second = strategy.experimental_local_results(strategy.run(draw))
    assert not np.allclose(first["z"], second["z"])
    whole = gan.latent.sample(8, [0, 5])
    np.testing.assert_array_equal(np.concatenate([first["z"], second["z"]]), whole["z"])
    np.testing.assert_array_equal(np.concatenate([first["labels"], second["labels"]]),
                                  whole["labels"])


@pytest.mark.parametrize("model", ["dcgan", "wgan_gp", "infogan"])
def test_xla_step_runs_on_cpu(make_config, model):
    config = make_config(model=model)
    xla, logs = fit_under(tf.distribute.get_strategy(), config, steps=3, jit_compile=True)
    assert xla.jit_compile is True
    assert all(np.isfinite(v) for v in logs.values()), logs
    assert int(xla.d_optimizer.iterations.numpy()) == 3 * xla.variant.d_steps


def _softplus(x):
    return np.logaddexp(0.0, np.asarray(x, np.float64))


def test_the_xla_step_computes_the_plain_losses_on_the_noise_xla_draws(make_config):
    """XLA's stateless RNG kernels draw other numbers than the plain ones from the same seed, so
    an XLA run cannot be compared bit for bit with a plain one; its step must still compute the
    same function: its logged d_adv is -log D(x) - log(1 - D(G(z))) on the z that XLA draws
    from the update's seed, evaluated here without XLA."""
    config = resolve(make_config(model="dcgan", seed=3))
    variant = config.variant
    data = load(config.dataset)
    gan = build_gan(config, data.spec.shape, data.spec.num_classes, jit_compile=True)
    images, labels = next(iter(split_for_d_steps(make_train_dataset(data, 8, 0), 8, 1)))
    gan.step.assign(5)
    seed = tf.random.experimental.stateless_fold_in(tf.constant([3, 5], tf.int64), 0,
                                                    alg="philox")
    drawn = tf.function(lambda s: gan.latent.sample(8, s), jit_compile=True)(seed)
    assert not np.allclose(drawn["z"], gan.latent.sample(8, seed)["z"])  # the premise
    fake = gan.generator(gan.latent.generator_input(drawn), training=True)
    real_logits = gan.discriminator(images[:, 0], training=True)["logits"].numpy()
    fake_logits = gan.discriminator(fake, training=True)["logits"].numpy()
    d_adv = np.mean(_softplus(-real_logits) + _softplus(fake_logits))
    logs = tf.function(gan.train_step, jit_compile=True)((images, labels))
    assert float(logs["d_adv"]) == pytest.approx(d_adv, rel=1e-4)


@pytest.mark.parametrize("model", ["dcgan", "wgan_gp", "acgan"])
def test_mixed_precision_scales_both_losses_and_keeps_float32_outputs(make_config, model):
    """float16 compute with float32 weights and outputs, both losses scaled and unscaled: from
    the same weights and batch, a step logs the losses the float32 step logs, to float16
    rounding (a loss left scaled would be 32,768 times too large). One D update a step: where
    the float16 gradient overflows (WGAN-GP's first, at the initial scale 2^15) the optimizer
    skips that update and halves its scale, so what follows it differs by design."""
    config = make_config(model=model, d_steps=1)
    config = resolve(config)
    variant = config.variant
    data = load(config.dataset)
    batch = next(iter(split_for_d_steps(make_train_dataset(
        data, config.batch_size * variant.d_steps, 0), config.batch_size, variant.d_steps)))
    logs = {}
    try:
        reference = build_gan(config, data.spec.shape, data.spec.num_classes)
        gan = build_gan(dataclasses.replace(config, mixed_precision=True),
                        data.spec.shape, data.spec.num_classes)
        gan.generator.set_weights(reference.generator.get_weights())
        gan.discriminator.set_weights(reference.discriminator.get_weights())
        for mixed, each in ((False, reference), (True, gan)):
            logs[mixed] = {k: float(v) for k, v in tf.function(each.train_step)(batch).items()}
    finally:
        keras.config.set_dtype_policy("float32")
    for opt in (gan.d_optimizer, gan.g_optimizer):
        assert isinstance(opt, keras.optimizers.LossScaleOptimizer)
    assert gan.generator.layers[1].compute_dtype == "float16"
    assert gan.generator.output.dtype == "float32"
    assert all(v.dtype == "float32" for v in gan.discriminator.output.values())
    assert all(w.dtype == "float32" for w in gan.generator.trainable_weights)
    d_terms = [k for k in logs[False] if k.startswith(("d_", "gp")) and k != "d_grad_norm"]
    assert "d_loss" in d_terms
    both_applied = np.isfinite(logs[True]["d_grad_norm"])
    assert both_applied or model == "wgan_gp"
    for name in d_terms + (["g_loss", "g_grad_norm", "d_grad_norm"] if both_applied else []):
        assert logs[True][name] == pytest.approx(logs[False][name], rel=2e-2, abs=1e-2), name


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(tmp_path, workdir, args, ports, run="run"):
    """Starts worker 0 and 1 of a cluster on 127.0.0.1 `ports`; their output goes to
    tmp_path/<run>-<index>.log (a file, so a long run never blocks on a full pipe)."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    processes = []
    for index in range(2):
        scratch = tmp_path / f"{run}-tmp{index}"
        scratch.mkdir()
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT, TMPDIR=str(scratch),
                   TF_CONFIG=json.dumps({"cluster": cluster,
                                         "task": {"type": "worker", "index": index}}))
        with open(tmp_path / f"{run}-{index}.log", "w") as log:
            processes.append(subprocess.Popen(
                [sys.executable, os.path.join(ROOT, "train.py"), "--strategy=multi_worker",
                 f"--workdir={workdir}", *args], env=env, stdout=log, stderr=subprocess.STDOUT))
    return processes


def finish(processes, tmp_path, run="run", timeout=300):
    """Waits for the workers; returns their output."""
    for p in processes:
        p.wait(timeout=timeout)
    return [(tmp_path / f"{run}-{i}.log").read_text() for i in range(len(processes))]


def checkpoint_values(path):
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)
            if not name.startswith(("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter"))}


def test_two_workers_only_the_chief_writes_and_a_lost_worker_is_reported_then_resumed(
        tmp_path):
    """An uninterrupted two-worker run under --ema (only the chief writes), and the same run with
    worker 1 killed mid-run: worker 0 stops with one line, the restarted cluster resumes from the
    last checkpoint and ends bit-identical to the uninterrupted run, the generator average too."""
    args = ["--model=gan", "--dataset=ring8", "--width=16", "--batch_size=8",
            "--train_steps=30", "--steps_per_epoch=10", "--checkpoint_every=10", "--ema=0.9"]
    reference = tmp_path / "reference"
    processes = start_workers(tmp_path, reference, args, _free_ports(2), run="reference")
    for p, out in zip(processes, finish(processes, tmp_path, run="reference")):
        assert p.returncode == 0, out[-3000:]
    assert sorted(os.listdir(reference)) == ["checkpoints", "config.json", "run.lock",
                                             "saved_model", "saved_model_raw", "train"]
    for index in range(2):  # the workers' scratch checkpoints are gone
        assert os.listdir(tmp_path / f"reference-tmp{index}") == []
    config = resolve(Config.load(str(reference / "config.json")))
    variant = config.variant
    spec = load(config.dataset).spec
    gan = build_gan(config, spec.shape, spec.num_classes)
    make_checkpoint(gan).restore(str(reference / "checkpoints" / "ckpt-30")
                                 ).assert_existing_objects_matched()
    assert int(gan.step.numpy()) == 30

    workdir, checkpoints = tmp_path / "killed", tmp_path / "killed" / "checkpoints"
    ports = _free_ports(2)
    processes = start_workers(tmp_path, workdir, args, ports)
    deadline = time.time() + 300
    while not tf.train.latest_checkpoint(str(checkpoints)) and time.time() < deadline:
        time.sleep(0.05)
    processes[1].send_signal(signal.SIGKILL)
    killed_at = time.time()
    try:
        processes[0].wait(timeout=60)
    finally:
        processes[0].kill()
    waited = time.time() - killed_at
    out = (tmp_path / "run-0.log").read_text()
    assert processes[0].returncode == 75, out[-3000:]  # EX_TEMPFAIL: restart the cluster
    last = tf.train.latest_checkpoint(str(checkpoints))
    step = int(last.rsplit("-", 1)[1])
    assert step < 30, "the kill must land mid-run"
    error = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and "Traceback" not in out, out[-3000:]
    assert (f"lost worker 1 (127.0.0.1:{ports[1]}) of the cluster" in error[0]
            and f"the last intact checkpoint is checkpoints/ckpt-{step} in {workdir}" in error[0]
            and "restart every worker" in error[0] and "--strategy=multi_worker" in error[0]), \
        error[0]
    print(f"worker 0 exited {waited:.1f} s after worker 1 was killed")

    restarted = start_workers(tmp_path, workdir, args, ports, run="restart")
    for p, out in zip(restarted, finish(restarted, tmp_path, run="restart")):
        assert p.returncode == 0, out[-3000:]
        assert f"resuming from step {step} (checkpoints/ckpt-{step})" in out
    got = checkpoint_values(str(checkpoints / "ckpt-30"))
    expected = checkpoint_values(str(reference / "checkpoints" / "ckpt-30"))
    assert set(got) == set(expected) and any("optimizer" in k for k in got)
    assert any("generator_average" in k for k in got)  # the average is resumed with the rest
    for name in expected:  # resumed on CPU: bit-identical to the uninterrupted cluster
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
