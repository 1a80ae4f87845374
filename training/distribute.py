"""tf.distribute strategies, and which worker writes what.

- default:      one device (tf.distribute's default strategy).
- mirrored:     MirroredStrategy over `devices` (default: every visible GPU; on a CPU-only
                machine, every logical CPU, see `split_cpu`).
- multi_worker: MultiWorkerMirroredStrategy; the cluster comes from the TF_CONFIG environment
                variable. Only the chief writes what the user sees (config, events, checkpoints,
                export); the other workers save their share of each checkpoint to a scratch
                directory that is removed, because saving is a collective operation.
- tpu:          TPUStrategy on the TPU at `tpu` (a name or grpc:// address; "" for a local TPU).

Batch norm under replicas is *synchronized* (models/networks.py): statistics are computed over
the global batch, so N replicas train exactly the network one device would.
"""
import json
import os

import tensorflow as tf

from training.config import ConfigError

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def split_cpu(count):
    """Splits the CPU into `count` logical devices (before TensorFlow runs any op), so that
    MirroredStrategy can be exercised on a machine without GPUs."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def make_strategy(name, devices=None, tpu=None):
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
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
    resolver = getattr(strategy.extended, "_cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    cluster = resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in cluster
