"""A PyTorch peer of our training step: the same networks, batch, losses and optimizers, trained by
a plain eager loop, timed the same way (a timestamp per step, median and IQR after a warm-up).

Not run by itself: `python -m benchmarks.train_step --torch` and `python -m benchmarks.gpu`
start it in its own process (no TensorFlow imported there) with the variant's settings read from
models/variants.py, and put its figures beside ours. Needs PyTorch (`pip install -e ".[bench]"`),
which the project itself never imports. Settings `device` ("cpu" by default, or "cuda") and
`compile` (torch.compile of both networks) say where and how the step runs.

The networks mirror models/networks.py layer for layer (the benchmarks check that both count the
same parameters):
- "dcgan", 28x28x1: G = Dense(7*7*2w, no bias)-BN-ReLU, ConvT(w, 4, s2)-BN-ReLU, ConvT(1, 4, s2)
  tanh; D = Conv(w, 4, s2)-LReLU(0.2), Conv(2w, 4, s2, no bias)-BN-LReLU, Dense(1).
- "mlp": G = 3 x Dense(w)-ReLU, Dense(out); D = Dense(w)-LReLU, 2 x Dense(w)-[norm]-LReLU,
  Dense(1).
- "wgan_gp_toy" (gan_toy.py's nets, the toy wgan / wgan_gp protocol): G as "mlp"; D = 3 x
  Dense(w)-ReLU, Dense(1).
- "pacgan_toy" (PacGAN's nets, the toy `gan` protocol): G = 4 x Dense(w, no bias)-BN(eps 1e-4,
  momentum 0.05)-ReLU, Dense(out); D = 3 maxout layers (Dense((w // 2) * 5), the max over each
  5 consecutive units), Dense(1).
- "infogan_mnist" (the official InfoGAN nets, w = 64): G = Dense(16w)-BN-ReLU,
  Dense(7*7*2w)-BN-ReLU, ConvT(w, 4, s2)-BN-ReLU, ConvT(1, 4, s2) sigmoid, as 2p - 1; D trunk =
  Conv(w, 4, s2)-LReLU(0.01), Conv(2w, 4, s2)-BN-LReLU, Dense(16w)-BN-LReLU; D's logit Dense(1);
  Q = Dense(128)-BN-LReLU, Dense(10) categorical logits, Dense(2) means. The
  step adds InfoGAN's mutual-information terms (cross-entropy of the categorical code, squared
  error of the unit-variance Gaussian continuous codes, on generated images) to D's and G's
  losses, as models/infogan.py.
A step is ours: `d_steps` D updates on fresh noise and real batches (plus WGAN-GP's penalty, with
a double backward), then one G update. Real batches are drawn from tensors in memory (mnist_5k's
digits, or the toy mixture), so the peer pays no input-pipeline cost at all.
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from benchmarks import summarize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAXOUT_PIECES = 5  # models/networks.py's (that module imports TensorFlow: not imported here)


def _norm(kind, features, image):
    if kind == "batch":
        return nn.BatchNorm2d(features) if image else nn.BatchNorm1d(features)
    if kind == "layer":
        return nn.LayerNorm(features)
    return nn.Identity()


class Generator(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s, w = s, s["width"]
        if s["arch"] == "dcgan":
            self.project = nn.Linear(s["input_dim"], 7 * 7 * 2 * w, bias=False)
            self.project_bn = nn.BatchNorm1d(7 * 7 * 2 * w)
            self.up = nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False)
            self.up_bn = nn.BatchNorm2d(w)
            self.out = nn.ConvTranspose2d(w, s["data_shape"][-1], 4, 2, 1)
        elif s["arch"] == "infogan_mnist":
            self.fc = nn.Sequential(
                nn.Linear(s["input_dim"], 16 * w), nn.BatchNorm1d(16 * w, eps=1e-5), nn.ReLU(),
                nn.Linear(16 * w, 7 * 7 * 2 * w), nn.BatchNorm1d(7 * 7 * 2 * w, eps=1e-5),
                nn.ReLU())
            self.up = nn.Sequential(
                nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.BatchNorm2d(w, eps=1e-5), nn.ReLU(),
                nn.ConvTranspose2d(w, s["data_shape"][-1], 4, 2, 1), nn.Sigmoid())
        elif s["arch"] == "pacgan_toy":
            dims = [s["input_dim"], w, w, w, w]
            batch_norm = s.get("g_norm") == "batch"
            self.hidden = nn.ModuleList(nn.Linear(a, b, bias=not batch_norm)
                                        for a, b in zip(dims, dims[1:]))
            self.norms = nn.ModuleList(nn.BatchNorm1d(w, eps=1e-4, momentum=0.05) if batch_norm
                                       else nn.Identity() for _ in dims[1:])
            self.out = nn.Linear(w, math.prod(s["data_shape"]))
        else:
            dims = [s["input_dim"], w, w, w]
            self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))
            self.out = nn.Linear(w, math.prod(s["data_shape"]))

    def forward(self, z):
        if self.s["arch"] == "infogan_mnist":
            return self.up(self.fc(z).view(-1, 2 * self.s["width"], 7, 7)) * 2.0 - 1.0
        if self.s["arch"] == "dcgan":
            x = F.relu(self.project_bn(self.project(z))).view(-1, 2 * self.s["width"], 7, 7)
            return torch.tanh(self.out(F.relu(self.up_bn(self.up(x)))))
        if self.s["arch"] == "pacgan_toy":
            for layer, norm in zip(self.hidden, self.norms):
                z = F.relu(norm(layer(z)))
            return self.out(z)
        for layer in self.hidden:
            z = F.relu(layer(z))
        return self.out(z)


class Discriminator(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s, w = s, s["width"]
        if s["arch"] == "dcgan":
            self.conv0 = nn.Conv2d(s["data_shape"][-1], w, 4, 2, 1)
            self.conv1 = nn.Conv2d(w, 2 * w, 4, 2, 1, bias=s["d_norm"] != "batch")
            self.norm1 = _norm(s["d_norm"], 2 * w, True) if s["d_norm"] != "layer" else (
                nn.LayerNorm([2 * w, 7, 7]))
            self.logits = nn.Linear(2 * w * 7 * 7, 1)
        elif s["arch"] == "infogan_mnist":
            self.trunk = nn.Sequential(
                nn.Conv2d(s["data_shape"][-1], w, 4, 2, 1), nn.LeakyReLU(0.01),
                nn.Conv2d(w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w, eps=1e-5), nn.LeakyReLU(0.01),
                nn.Flatten(), nn.Linear(2 * w * 7 * 7, 16 * w), nn.BatchNorm1d(16 * w, eps=1e-5),
                nn.LeakyReLU(0.01))
            self.logits = nn.Linear(16 * w, 1)
            self.q = nn.Sequential(nn.Linear(16 * w, 128), nn.BatchNorm1d(128, eps=1e-5),
                                   nn.LeakyReLU(0.01))
            self.code_logits = nn.Linear(128, s["num_categorical"])
            self.code_mean = nn.Linear(128, s["num_continuous"])
        elif s["arch"] == "pacgan_toy":
            units = w // 2
            dims = [math.prod(s["data_shape"]), units, units, units]
            self.hidden = nn.ModuleList(nn.Linear(a, b * MAXOUT_PIECES)
                                        for a, b in zip(dims, dims[1:]))
            self.logits = nn.Linear(units, 1)
        else:
            dims = [math.prod(s["data_shape"]), w, w, w]
            self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))
            self.norms = nn.ModuleList([nn.Identity()] + [_norm(s["d_norm"], w, False)
                                                          for _ in range(2)])
            self.logits = nn.Linear(w, 1)
        self.slope = 0.0 if s["arch"] == "wgan_gp_toy" else 0.2  # ReLU there, else LeakyReLU

    def forward(self, x):
        if self.s["arch"] == "infogan_mnist":  # (D's logit, Q's code logits, Q's means)
            h = self.trunk(x * 0.5 + 0.5)
            q = self.q(h)
            return self.logits(h), self.code_logits(q), self.code_mean(q)
        if self.s["arch"] == "dcgan":
            x = F.leaky_relu(self.conv0(x), 0.2)
            x = F.leaky_relu(self.norm1(self.conv1(x)), 0.2)
            return self.logits(x.flatten(1))
        x = x.flatten(1)
        if self.s["arch"] == "pacgan_toy":
            for layer in self.hidden:
                x = layer(x)
                x = x.view(x.shape[0], -1, MAXOUT_PIECES).amax(-1)
            return self.logits(x)
        for layer, norm in zip(self.hidden, self.norms):
            x = F.leaky_relu(norm(layer(x)), self.slope)
        return self.logits(x)


def _optimizer(s, params, lr):
    if s["optimizer"] == "rmsprop":
        return torch.optim.RMSprop(params, lr)
    return torch.optim.Adam(params, lr, betas=(s["beta_1"], s["beta_2"]))


def real_batches(s):
    """A function drawing one real batch [B, ...] from tensors in memory."""
    device = s.get("device", "cpu")
    if s["arch"] in ("dcgan", "infogan_mnist"):
        with np.load(os.path.join(ROOT, "data", "mnist_5k.npz")) as f:
            images = torch.tensor(f["images"], dtype=torch.float32, device=device)[:, None]
        images = images / 127.5 - 1.0
        return lambda: images[torch.randint(len(images), (s["batch"],), device=device)]
    angles = torch.arange(8, device=device) * 2 * math.pi / 8
    centres = 2.0 * torch.stack([torch.cos(angles), torch.sin(angles)], 1)
    return lambda: centres[torch.randint(8, (s["batch"],), device=device)] + 0.02 * torch.randn(
        s["batch"], 2, device=device)


def adversarial(s, real_logits, fake_logits):
    if s["loss"] == "wasserstein":
        return fake_logits.mean() - real_logits.mean()
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_cost(s, fake_logits):
    if s["loss"] == "wasserstein":
        return -fake_logits.mean()
    if s["loss"] == "minimax":
        return -F.softplus(fake_logits).mean()
    return F.softplus(-fake_logits).mean()


def gradient_penalty(d, real, fake):
    eps = torch.rand([real.shape[0]] + [1] * (real.dim() - 1), device=real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grads, = torch.autograd.grad(d(x_hat).sum(), x_hat, create_graph=True)
    return ((grads.flatten(1).pow(2).sum(1) + 1e-10).sqrt() - 1).pow(2).mean()


def build(s):
    torch.manual_seed(0)
    device = s.get("device", "cpu")
    g, d = Generator(s).to(device), Discriminator(s).to(device)
    return g, d, _optimizer(s, d.parameters(), s["d_lr"]), _optimizer(s, g.parameters(), s["g_lr"])


def latents(s):
    """(G's input, the codes drawn) of one batch: z ~ N(0, I), or InfoGAN's U(-1, 1) noise
    with a one-hot categorical code and U(-1, 1) continuous codes."""
    batch, device = s["batch"], s.get("device", "cpu")
    if s["arch"] != "infogan_mnist":
        return torch.randn(batch, s["input_dim"], device=device), None
    k, n = s["num_categorical"], s["num_continuous"]
    z = torch.rand(batch, s["input_dim"] - k - n, device=device) * 2 - 1
    c = torch.randint(k, (batch,), device=device)
    continuous = torch.rand(batch, n, device=device) * 2 - 1
    return torch.cat([z, F.one_hot(c, k).float(), continuous], 1), (c, continuous)


def information(outputs, codes):
    """InfoGAN's -L_I terms on generated images: the categorical code's cross-entropy and the
    unit-variance Gaussian's negative log-likelihood (up to its constant) of the continuous."""
    _, code_logits, code_mean = outputs
    c, continuous = codes
    return (F.cross_entropy(code_logits, c)
            + 0.5 * (continuous - code_mean).pow(2).sum(1).mean())


def measure(s, steps, warmup):
    g, d, d_opt, g_opt = build(s)
    if s.get("compile"):
        g_run, d_run = torch.compile(g), torch.compile(d)
    else:
        g_run, d_run = g, d
    real = real_batches(s)
    info = s["arch"] == "infogan_mnist"

    def logit(outputs):
        return outputs[0] if info else outputs

    def step():
        for _ in range(s["d_steps"]):
            x = real()
            z, codes = latents(s)
            fake = g_run(z).detach()
            fake_out = d_run(fake)
            loss = adversarial(s, logit(d_run(x)), logit(fake_out))
            if info:
                loss = loss + information(fake_out, codes)
            if s["gp_weight"]:
                loss = loss + s["gp_weight"] * gradient_penalty(d_run, x, fake)
            d_opt.zero_grad(set_to_none=True)
            loss.backward()
            d_opt.step()
            if s["clip_value"]:
                with torch.no_grad():
                    for p in d.parameters():
                        p.clamp_(-s["clip_value"], s["clip_value"])
        z, codes = latents(s)
        fake_out = d_run(g_run(z))
        loss = generator_cost(s, logit(fake_out))
        if info:
            loss = loss + information(fake_out, codes)
        g_opt.zero_grad(set_to_none=True)
        loss.backward()
        g_opt.step()
        return float(loss)  # waits for the step (on a GPU too)

    times = []
    for _ in range(warmup + steps):
        step()
        times.append(time.perf_counter())
    timed = np.diff(times[warmup - 1:])
    return {**summarize(timed),   # the statistics of our step, from the same function
            "steps": len(timed), "step_ms": [round(float(t) * 1e3, 2) for t in timed],
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "device": s.get("device", "cpu"), "compile": bool(s.get("compile")),
            "parameters": {"generator": sum(p.numel() for p in g.parameters()),
                           "discriminator": sum(p.numel() for p in d.parameters())}}


if __name__ == "__main__":
    settings, steps, warmup = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    print("RESULT " + json.dumps(measure(settings, steps, warmup)), flush=True)
