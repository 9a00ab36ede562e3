"""Clustering the projection z instead of the latent h (`cluster_on`)."""

from __future__ import annotations

import json

import pytest
import torch

from cae.cli import main
from cae.config import make_config
from cae.method.sampling import prototype_latents
from cae.method.train import Networks, build_networks, clustered


def _nets() -> Networks:
    return build_networks(make_config("smoke", dataset="mnist"), n_channels=1)


def test_h_is_clustered_as_it_is():
    h = torch.randn(5, 128)
    assert clustered(_nets(), h, make_config("smoke", dataset="mnist")) is h


def test_z_is_the_projection_in_eval_mode_and_the_mode_is_kept():
    nets, h = _nets(), torch.randn(6, 128)
    nets.projector.train()
    z = clustered(nets, h, make_config("smoke", dataset="mnist", cluster_on="z"))
    assert nets.projector.training
    nets.projector.eval()
    with torch.no_grad():
        torch.testing.assert_close(z, nets.projector(h))
    assert z.shape == (6, 128) and not z.requires_grad


def test_prototype_latents_of_z_are_the_mean_h_of_each_prototypes_members():
    nets = _nets()
    nets.prototypes = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    c = torch.tensor([[2.0, 0.1], [0.1, 3.0], [1.0, -0.2], [0.0, 1.0]])
    h = torch.arange(8.0).reshape(4, 2)
    latents = prototype_latents(nets, h, c, "z")
    torch.testing.assert_close(latents, torch.tensor([[2.0, 3.0], [4.0, 5.0], [0.0, 0.0]]))


def test_prototype_latents_of_h_sit_at_the_median_norm():
    nets = _nets()
    nets.prototypes = torch.tensor([[3.0, 4.0]])
    h = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    torch.testing.assert_close(prototype_latents(nets, h, h, "h"), torch.tensor([[1.2, 1.6]]))


def test_a_run_clustering_z_keeps_its_prototypes_in_z(tmp_path, fake_mnist_dir, capsys):
    run_dir = tmp_path / "run"
    args = ["reproduce", "--profile", "smoke", "--dataset", "mnist", "--data-dir",
            str(fake_mnist_dir), "--set", "cluster_on=z", "--set", "projector_dims=64,64,32",
            "--no-baselines", "--no-floors", "--quiet", "--run-dir", str(run_dir)]
    assert main(args) == 0, capsys.readouterr().err
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    elbow = json.loads((run_dir / "elbow.json").read_text())
    assert checkpoint["prototypes"].shape == (elbow["k"], 32)  # z's width, not h's 128
    # device, precision, allocator and kernels are resolved once: what training used is what
    # provenance says
    provenance = json.loads((run_dir / "provenance.json").read_text())
    assert checkpoint["runtime"] == {key: provenance[key]
                                     for key in ("device", "precision", "allocator", "kernels")}
    rows = json.loads((run_dir / "metrics.json").read_text())
    stat = [r["accuracy"] for r in rows if r["model"] == "CAE (ours)" and r["protocol"] == "stat"]
    against_k = json.loads((run_dir / "mapping_vs_k.json").read_text())
    assert against_k["test"]["accuracy"][against_k["ks"].index(elbow["k"])] == pytest.approx(stat[0])
    assert (run_dir / "figures" / "prototypes.png").stat().st_size > 1000
