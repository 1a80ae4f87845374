"""A tiny run's logdir read back through the real TensorBoard server's HTTP API."""
import dataclasses
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from training.config import Config
from training.loop import train


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return response.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("tb")
    train(Config(model="acgan", dataset="mnist_5k", workdir=str(logdir / "acgan"), train_steps=4,
                 steps_per_epoch=2, batch_size=8, width=8, jit_compile=False), verbose=0)
    train(Config(model="wgan_gp", dataset="ring8", workdir=str(logdir / "toy"), train_steps=2,
                 steps_per_epoch=2, batch_size=8, width=8, jit_compile=False), verbose=0)
    port = _free_port()
    command = [shutil.which("tensorboard") or sys.executable, "--logdir", str(logdir),
               "--host", "127.0.0.1", "--port", str(port), "--load_fast", "false",
               "--reload_interval", "1"]
    if command[0] == sys.executable:
        command[1:1] = ["-m", "tensorboard.main"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 90
        while True:
            try:
                tags = json.loads(_get(port, "/data/plugin/scalars/tags"))
                if "acgan/train" in tags and "toy/train" in tags:
                    break
            except OSError:
                pass
            if process.poll() is not None:
                pytest.fail("tensorboard exited: " + process.stderr.read().decode()[-2000:])
            if time.time() > deadline:
                pytest.fail("tensorboard did not serve the runs within 90 s")
            time.sleep(1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_every_loss_part_and_diagnostic_is_a_scalar_per_step(server):
    tags = json.loads(_get(server, "/data/plugin/scalars/tags"))
    assert set(tags["acgan/train"]) == {
        "loss/d_loss", "loss/d_adv", "loss/g_loss", "loss/g_adv", "D_output/d_real",
        "D_output/d_fake", "grad_norm/d_grad_norm", "grad_norm/g_grad_norm",
        "acgan/d_aux_real", "acgan/d_aux_fake", "acgan/g_aux"}
    assert "loss/gp" in tags["toy/train"]
    points = json.loads(_get(server, "/data/plugin/scalars/scalars?run=acgan/train&tag="
                                     "loss/d_loss"))
    assert [step for _, step, _ in points] == [1, 2, 3, 4]


def _description(tags, run, tag):
    """The card's description as TensorBoard serves it (markdown rendered to HTML)."""
    return re.sub(r"<[^>]+>", "", tags[run][tag]["description"])


def test_every_scalar_card_says_what_it_is_and_its_weight(server):
    """TensorBoard shows each card's description: the term's formula or meaning and its
    weight in its objective, as the step optimized it."""
    tags = json.loads(_get(server, "/data/plugin/scalars/tags"))
    for run in ("acgan/train", "toy/train"):
        for tag in tags[run]:
            assert len(_description(tags, run, tag)) > 40, (run, tag)
    assert "d_loss = 1 x d_adv + 1 x d_aux_real." in _description(tags, "acgan/train",
                                                                 "loss/d_loss")
    # AC-GAN's class loss on generated images at the Keras example's weight 0: logged only.
    assert "Logged only: not optimized" in _description(tags, "acgan/train", "acgan/d_aux_fake")
    assert "Weight 1 in d_loss" in _description(tags, "acgan/train", "acgan/d_aux_real")
    toy = _description(tags, "toy/train", "loss/d_loss")
    assert "d_loss = 1 x d_adv + 0.1 x gp." in toy  # gan_toy.py's lambda
    assert "last of the step's 5 D updates" in toy
    assert "Earth-Mover" in _description(tags, "toy/train", "loss/d_adv")


def test_sample_pictures_are_images_per_epoch(server):
    tags = json.loads(_get(server, "/data/plugin/images/tags"))
    assert "classes" in tags["acgan/train"]   # one row per class
    assert "samples" in tags["toy/train"]     # scatter over the real mixture
    images = json.loads(_get(server, "/data/plugin/images/images?run=acgan/train&tag=classes"))
    assert [image["step"] for image in images] == [2, 4]
    png = _get(server, "/data/plugin/images/individualImage?" + images[-1]["query"])
    assert png[:4] == b"\x89PNG"


def test_run_step_times_reads_each_steps_wall_time_and_skips_a_resume_gap(tmp_path):
    from benchmarks.run_step_times import step_times
    config = Config(model="gan", dataset="ring8", workdir=str(tmp_path / "run"), train_steps=12,
                    steps_per_epoch=6, batch_size=8, width=8, jit_compile=False,
                    toy_defaults=False)
    train(config, verbose=0)
    first = step_times(str(tmp_path / "run" / "train"), skip=0)
    assert first["steps"] == 11 and 0 < first["q25_ms"] <= first["median_ms"] <= first["q75_ms"]
    time.sleep(1.5)  # a gap longer than any step, between the run and its resumption
    train(dataclasses.replace(config, train_steps=18), verbose=0)
    both = step_times(str(tmp_path / "run" / "train"), skip=0)
    assert both["steps"] == 16  # 17 differences, less the one across the restart
    assert both["total_s"] < first["total_s"] + 1.5
