"""Benchmarks: each measurement runs in a child process of its own, which prints one
`RESULT {json}` line; these read it and summarise step times the same way everywhere."""
import json

RESULT = "RESULT "


def child_result(out):
    """The JSON of the last `RESULT` line a child printed (`out`: its CompletedProcess), or None
    if it printed none (it failed: its stderr says why)."""
    lines = [l for l in out.stdout.splitlines() if l.startswith(RESULT)]
    return json.loads(lines[-1][len(RESULT):]) if lines else None


def run_module(args, env=None, failure="a benchmark's child"):
    """`python -m *args` in the project's root, with `env` added to this environment: the JSON
    of its `RESULT` line, or SystemExit naming `failure` with the end of the child's stderr."""
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=root,
                         env=dict(os.environ, **(env or {})))
    result = child_result(out)
    if result is None:
        sys.exit(f"{failure} failed:\n{out.stderr[-3000:]}")
    return result


def summarize(step_seconds):
    """Median and interquartile range, in ms; and the 10th percentile, a second view when the
    machine drifts (one DCGAN process of 2026-11-30 stepped at 210-230 ms, then at 380-390 ms
    for runs of 8 steps)."""
    import numpy as np
    q10, q25, q50, q75 = np.percentile(np.asarray(step_seconds) * 1e3, [10, 25, 50, 75])
    return {"median_ms": float(q50), "q25_ms": float(q25), "q75_ms": float(q75),
            "q10_ms": float(q10)}
