"""The README's TensorBoard screenshots, retaken from a logdir.

    python docs/screenshots.py --logdir DIR --out docs/img [--scalars_filter=REGEX]

Starts TensorBoard on `--logdir` (a free local port), waits until it serves every run's scalars
(and images, where a run has them), and has headless Chromium write `tensorboard_scalars.png`
(the scalars tab) and `tensorboard_images.png` (the images tab) into `--out`, then stops
TensorBoard. Needs Debian's Chromium (`apt-get install chromium`); the tests do not run it.

The scalars tab opens only its first three tag groups; a tag filter (`#scalars&tagFilter=...`,
which TensorBoard's tab reads from the URL) puts every matching chart in one open pane of up to
twelve, so the shot shows several charts.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from absl import app, flags

flags.DEFINE_string("logdir", None, "TensorBoard logdir: a run's workdir, or a folder of them.")
flags.DEFINE_string("out", "docs/img", "Folder the two PNGs go to.")
flags.DEFINE_string("scalars_filter", ".*", "Tag regex of the charts the scalars shot shows.")
flags.DEFINE_string("images_filter", "", "Tag regex of the images shot (empty: the tab's "
                    "default: its first groups open, one card a tag).")
flags.DEFINE_string("window", "1440,750", "Browser window, width,height in CSS pixels: at "
                    "1440 the scalars tab lays its charts three abreast, 750 shows two rows.")
flags.DEFINE_string("chromium", "chromium", "Chromium's executable.")
flags.DEFINE_integer("timeout", 120, "Seconds to wait for TensorBoard, and for each shot.")
flags.mark_flag_as_required("logdir")
FLAGS = flags.FLAGS

# Headless flags that work without a display, a GPU or a network: no first-run dialogs, no
# background fetches, a fresh profile each time (--user-data-dir is added per shot).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars")
SETTLE_MS = 15000  # virtual time the page gets to fetch and draw before the shot


class ScreenshotError(Exception):
    """Why no screenshot could be taken, in one line."""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read())


def start_tensorboard(logdir, timeout):
    """(process, port) of a TensorBoard on `logdir` once it serves runs with scalars, and the
    same runs, scalar and image tags on two reads a second apart (loaded, not still loading)."""
    port = _free_port()
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--host",
               "127.0.0.1", "--port", str(port), "--load_fast", "false",
               "--reload_interval", "0"]  # load once: the shots show what is there now
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline, last = time.time() + timeout, None
    try:
        while True:
            if process.poll() is not None:
                lines = process.stderr.read().decode(errors="replace").strip().splitlines()
                raise ScreenshotError("tensorboard exited: " + (lines[-1] if lines else "?"))
            try:
                runs = _get_json(port, "/data/runs")
                seen = (runs, _get_json(port, "/data/plugin/scalars/tags"),
                        _get_json(port, "/data/plugin/images/tags"))
            except OSError:
                seen = None
            if seen and seen[0] and seen[1] and seen == last:
                return process, port
            last = seen
            if time.time() > deadline:
                raise ScreenshotError(f"tensorboard served no runs of {logdir} within "
                                      f"{timeout} s" + ("" if seen else " (no answer)"))
            time.sleep(1)
    except BaseException:
        stop(process)
        raise


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def screenshot(chromium, url, path, window, timeout):
    """Headless Chromium's shot of `url` in a `window` ("W,H") into `path`, a fresh profile
    each time (a reused one restores the last session's tabs and filters)."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    if os.path.exists(path):
        os.remove(path)
    try:
        result = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={window}",
             f"--virtual-time-budget={SETTLE_MS}", f"--screenshot={os.path.abspath(path)}", url],
            capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ScreenshotError(f"chromium took over {timeout} s on {url}") from None
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        lines = (result.stderr or "").strip().splitlines()
        raise ScreenshotError(f"chromium wrote no {path} (exit {result.returncode}): "
                              + (lines[-1] if lines else "no message"))


def take(logdir, out, scalars_filter=".*", images_filter="", window="1440,750",
         chromium="chromium", timeout=120):
    """{name: path} of the two shots of `logdir`, written into `out`."""
    executable = shutil.which(chromium)
    if executable is None:
        raise ScreenshotError(f"{chromium} is not installed: apt-get install chromium")
    if not os.path.isdir(logdir):
        raise ScreenshotError(f"--logdir={logdir} is not a directory")
    os.makedirs(out, exist_ok=True)
    process, port = start_tensorboard(logdir, timeout)
    try:
        shots = {}
        for name, tab, tag_filter in (("tensorboard_scalars.png", "scalars", scalars_filter),
                                      ("tensorboard_images.png", "images", images_filter)):
            url = f"http://127.0.0.1:{port}/#{tab}" + (
                f"&tagFilter={urllib.parse.quote(tag_filter, safe='')}" if tag_filter else "")
            shots[name] = os.path.join(out, name)
            screenshot(executable, url, shots[name], window, timeout)
        return shots
    finally:
        stop(process)


def main(argv):
    del argv
    start = time.perf_counter()
    try:
        shots = take(FLAGS.logdir, FLAGS.out, FLAGS.scalars_filter, FLAGS.images_filter,
                     FLAGS.window, FLAGS.chromium, FLAGS.timeout)
    except ScreenshotError as error:
        sys.exit(f"screenshots: {error}")
    for path in shots.values():
        print(f"wrote {path} ({os.path.getsize(path) // 1024} KiB)")
    print(f"took {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    app.run(main)
