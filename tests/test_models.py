"""Shapes of the paper's networks, the conditional decoder's identity start, and runtime choices."""

from __future__ import annotations

import numpy as np
import torch

from cae.data.datasets import _to_split
from cae.infra.runtime import Runtime, cpu_name, cpu_supports_bf16, resolve_kernels, resolve_precision
from cae.method.models import ConditionalDecoder, Decoder, Encoder, Projector


def test_encoder_halves_three_times_then_pools_to_the_latent():
    encoder = Encoder(3, (8, 16, 32), latent_dim=128)
    x = torch.rand(5, 3, 28, 28)
    sizes = []
    for layer in encoder.features:
        x = layer(x)
        if isinstance(layer, torch.nn.Conv2d):
            sizes.append(x.shape[-1])
    assert sizes == [14, 7, 3]
    assert encoder(torch.rand(5, 3, 28, 28)).shape == (5, 128)


def test_decoder_and_projector_shapes():
    h = torch.randn(4, 128)
    y = Decoder(1, (8, 16, 32))(h)
    assert y.shape == (4, 1, 28, 28) and 0 <= y.min() and y.max() <= 1
    assert Projector(128, (64, 64, 32))(h).shape == (4, 32)


def test_conditional_decoder_starts_as_the_decoder():
    torch.manual_seed(0)
    decoder = Decoder(1, (8, 16, 32))
    conditional = ConditionalDecoder(decoder, n_prototypes=3)
    h, s = torch.randn(6, 128), torch.softmax(torch.randn(6, 3), dim=1)
    assert torch.allclose(conditional(h, s), decoder(h), atol=1e-6)


def test_rgb_medmnist_arrays_become_channels_first():
    images = np.arange(2 * 28 * 28 * 3, dtype=np.uint8).reshape(2, 28, 28, 3)
    split = _to_split(images, np.array([[1], [0]]))
    assert split.images.shape == (2, 3, 28, 28)
    assert torch.equal(split.images[1, 2], torch.from_numpy(images[1, :, :, 2]))
    assert split.labels.tolist() == [1, 0]


def test_bf16_only_on_cpus_that_have_bf16_units(tmp_path):
    (tmp_path / "amd").write_text("flags : fpu sse2 avx2 fma\n")
    (tmp_path / "amx").write_text("flags : fpu avx2 avx512f amx_bf16 amx_tile\n")
    assert not cpu_supports_bf16(tmp_path / "amd")
    assert cpu_supports_bf16(tmp_path / "amx")
    assert not cpu_supports_bf16(tmp_path / "missing")
    (tmp_path / "named").write_text("processor : 0\nmodel name : AMD EPYC 9554\nflags : avx2\n")
    assert cpu_name(tmp_path / "named") == "AMD EPYC 9554"
    assert resolve_precision("fp32", torch.device("cpu")) == "fp32"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"


def test_auto_picks_bf16_only_on_cpus_with_amx(tmp_path):
    cpus = {"avx2": "avx2 fma", "avx512_bf16": "avx2 avx512f avx512_bf16",
            "amx": "avx2 avx512f avx512_bf16 amx_bf16 amx_tile"}
    picked = {}
    for name, flags in cpus.items():
        (tmp_path / name).write_text(f"flags : fpu {flags}\n")
        picked[name] = resolve_precision("auto", torch.device("cpu"), tmp_path / name)
    assert picked == {"avx2": "fp32", "avx512_bf16": "fp32", "amx": "bf16"}
    assert resolve_precision("auto", torch.device("cpu"), tmp_path / "missing") == "fp32"


def test_kernels_auto_is_fast_on_the_cpu_only_and_named_kernels_stay():
    assert resolve_kernels("auto", torch.device("cpu")) == "fast"
    assert resolve_kernels("auto", torch.device("cuda")) == "exact"  # not measured there
    assert resolve_kernels("exact", torch.device("cpu")) == "exact"
    runtime = Runtime.resolve("cpu", "fp32", "fast")
    assert runtime.fast and runtime.describe()["kernels"] == "fast"
    assert not Runtime.resolve("cpu", "fp32").fast  # callers that predate kernels: exact
