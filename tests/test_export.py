"""The exported decoder: onnxruntime gives PyTorch's images and soft assignment, a one-hot
mix at the run's temperature decodes a prototype as the run's figure does, and the CLI
writes the graph and its description for a trained run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from cae.cli import main
from cae.config import make_config
from cae.evaluation.export import DECODER_JSON, DECODER_ONNX, PrototypeMixer, write_onnx
from cae.method.models import ConditionalDecoder
from cae.method.sampling import decode_prototypes
from cae.method.train import Networks, build_networks

K = 5


def random_networks(cluster_on: str, seed: int = 0) -> tuple[Networks, torch.Tensor]:
    """Randomly initialised networks with K random prototypes, and K random latents; the
    projector's batch-norm statistics are random too, so the z path is not the identity."""
    cfg = make_config("smoke", dataset="mnist", seed=seed, cluster_on=cluster_on)
    nets = build_networks(cfg, n_channels=1)
    g = torch.Generator().manual_seed(seed)
    nets.prototypes = torch.randn(K, cfg.projector_dims[-1] if cluster_on == "z" else cfg.latent_dim,
                                  generator=g)
    nets.cond_decoder = ConditionalDecoder(nets.decoder, K, cfg.latent_dim)
    with torch.no_grad():
        for module in nets.projector.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.normal_(generator=g)
                module.running_var.uniform_(0.5, 2.0, generator=g)
        for p in nets.cond_decoder.parameters():  # fuse starts as the identity on h: move it
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return nets, torch.randn(K, cfg.latent_dim, generator=g) * 3


@pytest.mark.parametrize("cluster_on", ["h", "z"])
def test_onnx_decoder_matches_pytorch(tmp_path, cluster_on):
    nets, latents = random_networks(cluster_on)
    mixer = PrototypeMixer(nets, latents, make_config("smoke", dataset="mnist", cluster_on=cluster_on))
    session = onnxruntime.InferenceSession(str(write_onnx(mixer, tmp_path / DECODER_ONNX)))
    rng = np.random.default_rng(0)
    weights = np.concatenate([rng.random((6, K)), np.eye(K), np.full((1, K), 1.0)]).astype(np.float32)
    for temperature in (0.01, 0.1, 1.0, 10.0):
        t = np.array([temperature], dtype=np.float32)
        image, assignment = session.run(None, {"weights": weights, "temperature": t})
        with torch.no_grad():
            want_image, want_assignment = mixer(torch.from_numpy(weights), torch.from_numpy(t))
        assert image.shape == (len(weights), 1, 28, 28) and assignment.shape == (len(weights), K)
        np.testing.assert_allclose(image, want_image.numpy(), rtol=0, atol=1e-4)
        np.testing.assert_allclose(assignment, want_assignment.numpy(), rtol=0, atol=1e-4)
        np.testing.assert_allclose(assignment.sum(1), 1, atol=1e-5)


def test_weights_are_clipped_and_scaled_to_sum_one():
    nets, latents = random_networks("h")
    mixer = PrototypeMixer(nets, latents, make_config("smoke", dataset="mnist")).eval()
    w = torch.tensor([[0.2, 0.0, 0.6, 0.0, 0.2]])
    t = torch.tensor([0.1])
    with torch.no_grad():
        image, s = mixer(w, t)
        for other in (5 * w, w + torch.tensor([[0.0, -1.0, 0.0, -3.0, 0.0]])):
            torch.testing.assert_close(mixer(other, t), (image, s))
        h = 0.2 * latents[0] + 0.6 * latents[2] + 0.2 * latents[4]
        want_s = torch.softmax(torch.nn.functional.cosine_similarity(
            h[None], nets.prototypes, dim=1) / 0.1, dim=0)
        torch.testing.assert_close(s[0], want_s)
        torch.testing.assert_close(image, nets.cond_decoder(h[None], want_s[None]))


def test_one_hot_mix_decodes_the_prototype_as_the_run_figure_does():
    cfg = make_config("smoke", dataset="mnist")
    nets, _ = random_networks("h")
    h_train = torch.randn(50, cfg.latent_dim) * 4
    figure = decode_prototypes(nets, h_train, h_train, cfg, torch.device("cpu"))
    latents = nets.prototypes / nets.prototypes.norm(dim=1, keepdim=True) * h_train.norm(dim=1).median()
    mixer = PrototypeMixer(nets, latents, cfg).eval()
    with torch.no_grad():
        image, _ = mixer(torch.eye(K), torch.tensor([cfg.assign_temperature]))
    torch.testing.assert_close(image, figure)


def test_cli_exports_a_trained_run(tmp_path: Path, fake_mnist_dir: Path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "--profile", "smoke", "--dataset", "mnist", "--data-dir",
                 str(fake_mnist_dir), "--run-dir", str(run_dir), "--quiet",
                 "--set", "train_subset=256"]) == 0
    assert main(["export-decoder", "--run-dir", str(run_dir)]) == 0
    assert str(run_dir / DECODER_ONNX) in capsys.readouterr().out
    info = json.loads((run_dir / DECODER_JSON).read_text())
    k = json.loads((run_dir / "elbow.json").read_text())["k"]
    assert len(info["prototypes"]) == k and info["channels"] == 1
    assert all(p["class"] in info["class_names"] and sum(p["class_fractions"]) == pytest.approx(1, abs=1e-3)
               for p in info["prototypes"])
    session = onnxruntime.InferenceSession(str(run_dir / DECODER_ONNX))
    image, s = session.run(None, {"weights": np.eye(k, dtype=np.float32),
                                  "temperature": np.array([info["assign_temperature"]], np.float32)})
    assert image.shape == (k, 1, 28, 28) and 0 <= image.min() and image.max() <= 1
    assert (s.argmax(1) == np.arange(k)).all()  # each prototype is its own nearest
