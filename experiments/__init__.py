"""Theory experiments: each checks one claim of the GAN papers on a problem with a known answer.

    python -m experiments.optimal_discriminator  # D* = p / (p + p_G); max V = 2 JS - 2 log 2
    python -m experiments.js_vs_em               # parallel lines: JS flat at log 2, W = |theta|
    python -m experiments.vanishing_gradients    # log(1 - D) saturates as D trains, -log D not

Each writes `<name>.png` and `<name>.json` to `--out_dir` (default `results/<name>`); `--quick`
is a small version of the same protocol, used by tests/test_experiments.py.
"""
