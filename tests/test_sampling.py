"""The variational variant and sampling from a cluster."""

from __future__ import annotations

import json

import pytest
import torch

from cae.cli import main
from cae.config import make_config
from cae.data.datasets import load
from cae.errors import CaeError
from cae.method.checkpoints import load_networks
from cae.method.losses import kl_divergence, reparameterise
from cae.method.models import Encoder
from cae.method.sampling import cluster_samples
from cae.report import readouts


def test_kl_divergence_by_hand():
    assert kl_divergence(torch.zeros(3, 4), torch.zeros(3, 4)).item() == 0.0
    # mean 1 in two dimensions: 0.5 * (1 + 1) = 1; variance e: 0.5 * (e - 1 - 1) per dimension
    assert kl_divergence(torch.ones(5, 2), torch.zeros(5, 2)).item() == pytest.approx(1.0)
    assert kl_divergence(torch.zeros(1, 1), torch.ones(1, 1)).item() == pytest.approx(
        0.5 * (torch.e - 2))


def test_reparameterise_draws_around_the_mean_with_gradients_to_both():
    mean = torch.full((20000, 2), 3.0, requires_grad=True)
    logvar = torch.full((20000, 2), 2 * torch.log(torch.tensor(0.5)).item(), requires_grad=True)
    h = reparameterise(mean, logvar, torch.Generator().manual_seed(0))
    assert h.mean().item() == pytest.approx(3.0, abs=0.01)
    assert h.std().item() == pytest.approx(0.5, abs=0.01)
    h.sum().backward()
    assert mean.grad is not None and logvar.grad is not None


def test_a_plain_encoder_has_no_log_variance_weights():
    plain, variational = Encoder(1, (4, 8, 16), 32), Encoder(1, (4, 8, 16), 32, variational=True)
    assert not any("logvar" in k for k in plain.state_dict())  # published checkpoints load
    h, logvar = variational(torch.rand(3, 1, 28, 28), with_logvar=True)
    assert h.shape == logvar.shape == (3, 32)
    torch.testing.assert_close(variational(torch.rand(3, 1, 28, 28)).shape, h.shape)


def test_a_variational_run_samples_from_each_cluster(tmp_path, fake_mnist_dir, capsys):
    run_dir = tmp_path / "variational" / "mnist-smoke-seed0"
    args = ["reproduce", "--profile", "smoke", "--dataset", "mnist", "--data-dir",
            str(fake_mnist_dir), "--set", "variational=true", "--no-baselines", "--no-floors",
            "--quiet", "--run-dir", str(run_dir)]
    assert main(args) == 0, capsys.readouterr().err
    assert (run_dir / "figures" / "samples.png").stat().st_size > 1000
    assert readouts.variational_samples(tmp_path, "mnist")[1] == run_dir / "figures" / "samples.png"
    assert readouts.variational_samples(tmp_path, "pneumoniamnist")[1] is None
    history = json.loads((run_dir / "history.json").read_text())
    assert all(t > n for t, n in zip(history["total"], history["nt_xent"]))  # KL and MSE add
    cfg = make_config("smoke", dataset="mnist", data_dir=str(fake_mnist_dir), variational=True)
    data = load(cfg)
    nets = load_networks(cfg, run_dir, data.n_channels, torch.device("cpu"))
    samples = cluster_samples(nets, data.splits["train"].images, cfg, torch.device("cpu"), 3)
    k = json.loads((run_dir / "elbow.json").read_text())["k"]
    assert samples.shape == (k, 3, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1
    again = cluster_samples(nets, data.splits["train"].images, cfg, torch.device("cpu"), 3)
    torch.testing.assert_close(samples, again)  # seeded
    with pytest.raises(CaeError, match="variational run"):
        plain = make_config("smoke", dataset="mnist")
        cluster_samples(nets, data.splits["train"].images, plain, torch.device("cpu"))
