"""tf.distribute strategies, and which worker writes what.

- default:      one device (tf.distribute's default strategy).
- mirrored:     MirroredStrategy over `devices` (default: every visible GPU; on a CPU-only
                machine, every logical CPU, see `split_cpu`).
- multi_worker: MultiWorkerMirroredStrategy; the cluster comes from the TF_CONFIG environment
                variable. Only the chief writes what the user sees (config, events, checkpoints,
                export); the other workers save their share of each checkpoint to a scratch
                directory that is removed, because saving is a collective operation.
- tpu:          TPUStrategy on the TPU at `tpu` (a name or grpc:// address; "" for a local TPU).

A worker that dies (killed, its machine lost) aborts the collectives of the others within
seconds: MultiWorkerMirroredStrategy's peers exchange heartbeats, and a missed one or a reset
connection aborts every pending all-reduce. `is_peer_failure` and `lost_peers` turn that error
into the peer's name and address, for a one-line report.

Batch norm under replicas is *synchronized* (models/networks.py): statistics are computed over
the global batch, so N replicas train exactly the network one device would.

Off TensorFlow (KERAS_BACKEND, docs/backends.md) there is no tf.distribute: `make_strategy`
gives a `KerasDistribution` instead. On JAX, `mirrored` is keras.distribution's DataParallel
over `devices` (default: every local device; on a CPU-only machine `split_cpu` makes XLA show
several), whose compiled step computes on the global batch sharded over them, batch norm
included, so it trains the network one device would up to the order of float sums
(tests/test_distribute.py). `multi_worker` and `tpu` are TensorFlow's only, and PyTorch runs
on one device.
"""
import contextlib
import json
import os
import re
import socket

import keras

import tensorflow as tf

from training.config import STRATEGIES, ConfigError


def split_cpu(count):
    """Splits the CPU into `count` logical devices (before TensorFlow runs any op), so that
    MirroredStrategy can be exercised on a machine without GPUs; on JAX, the host platform's
    device count of XLA (before JAX starts its backend)."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    flags = re.sub(r"--xla_force_host_platform_device_count=\d+", "",
                   os.environ.get("XLA_FLAGS", ""))
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()


class KerasDistribution:
    """What train() uses of a strategy, off TensorFlow: `num_replicas_in_sync` and `scope()`
    (keras.distribution's, or nothing on one device)."""

    def __init__(self, distribution=None, replicas=1):
        self.distribution, self.num_replicas_in_sync = distribution, replicas

    def scope(self):
        return self.distribution.scope() if self.distribution else contextlib.nullcontext()


def _keras_distribution(name, devices, backend):
    if name == "default":
        return KerasDistribution()
    if name != "mirrored" or backend != "jax":
        raise ConfigError(f"--strategy={name} runs on TensorFlow only, not on Keras' {backend} "
                          "backend" + (" (on JAX, --strategy=mirrored is data parallel)"
                                       if backend == "jax" else "") +
                          "; unset KERAS_BACKEND to train on TensorFlow")
    available = keras.distribution.list_devices()
    if devices:
        missing = [d for d in devices if d not in available]
        if missing:
            raise ConfigError(f"no device {', '.join(missing)} here; JAX lists "
                              f"{', '.join(available)} (--devices)")
    devices = list(devices or available)
    return KerasDistribution(keras.distribution.DataParallel(devices=devices), len(devices))


def make_strategy(name, devices=None, tpu=None, backend="tensorflow"):
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if backend != "tensorflow":
        return _keras_distribution(name, devices, backend)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = list(devices or [d.name for d in tf.config.list_logical_devices("GPU")]
                       or [d.name for d in tf.config.list_logical_devices("CPU")])
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ConfigError("--strategy=multi_worker needs the TF_CONFIG environment variable "
                              "(cluster and task) on every worker")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except ValueError as e:
            raise ConfigError(f"TF_CONFIG is not valid JSON ({e})") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError) as e:
        raise ConfigError(f"no TPU at --tpu={tpu!r} ({str(e).splitlines()[0]}); pass the TPU's "
                          "name or grpc:// address") from None
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy):
    """True for the one worker that writes what the user sees."""
    if isinstance(strategy, KerasDistribution):
        return True  # one process
    resolver = getattr(strategy.extended, "_cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    cluster = resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in cluster


def _cluster(strategy):
    """(own (job, index), {(job, index): address}) of a multi-worker strategy, else None."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return None
    resolver = strategy.cluster_resolver
    tasks = {(job, i): address for job, addresses in resolver.cluster_spec().as_dict().items()
             for i, address in enumerate(addresses)}
    return (resolver.task_type, resolver.task_id), tasks


def is_peer_failure(error, strategy):
    """True if `error` is a collective op aborted because a peer of the cluster is gone."""
    if _cluster(strategy) is None or not isinstance(error, tf.errors.OpError):
        return False
    return isinstance(error, (tf.errors.UnavailableError, tf.errors.AbortedError,
                              tf.errors.DeadlineExceededError)) or bool(re.search(
        r"Collective ops is aborted|unhealthy|heartbeat|Connection reset|Socket closed",
        error.message or ""))


def _answers(address, timeout=2.0):
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
        return True
    except (OSError, ValueError):
        return False


def lost_peers(error, strategy):
    """['worker 1 (127.0.0.1:2223)', ...]: the peers `error` names as unhealthy or unreachable,
    or, if it names none, those whose address no longer answers."""
    own, tasks = _cluster(strategy)
    named = {(job, int(i)) for job, i in re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)",
                                                     error.message or "")}
    lost = sorted((named & set(tasks)) - {own}) or [
        task for task in sorted(tasks) if task != own and not _answers(tasks[task])]
    return [f"{job} {i} ({tasks[job, i]})" for job, i in lost]
