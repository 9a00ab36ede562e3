"""The conditional decoder as an ONNX graph, for the book's live prototype explorer.

The graph maps mixing weights w over the k prototypes and an assignment temperature T to
the image the conditional decoder draws:
  h = sum_i w_i latent_i     (w clipped at 0 and scaled to sum 1; latent_i is prototype i's
                              latent, `sampling.prototype_latents`)
  s = softmax(cos(c, prototypes) / T)   (the method's soft assignment; c = h, or z = p(h)
                                          when the run clusters z)
  image = cond_decoder(h, s)
and returns s too. A one-hot w at the run's temperature decodes that prototype as the
run's prototypes figure does (exactly so when the run clusters h). Beside the graph, a
JSON file describes the prototypes (their classes among train members) and the inputs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from torch import nn
from torch.export import Dim

from cae.config import RunConfig, load_config
from cae.data.datasets import Dataset, load
from cae.evaluation.protocols import mapping_protocol
from cae.infra.files import atomic_write, write_json
from cae.infra.runs import DECODER_JSON, DECODER_ONNX, check_results_config
from cae.infra.runtime import encode, resolve_precision
from cae.method.checkpoints import load_networks
from cae.method.clustering import soft_assign
from cae.method.sampling import prototype_latents
from cae.method.train import Networks, clustered

OPSET = 18  # run by onnxruntime and by onnxruntime-web 1.30 (scripts/fetch_onnxruntime.sh)


class PrototypeMixer(nn.Module):
    """Mixing weights (b, k) and a temperature (1,) -> images (b, c, 28, 28) and s (b, k)."""

    latents: torch.Tensor  # buffers, registered in __init__
    prototypes: torch.Tensor

    def __init__(self, nets: Networks, latents: torch.Tensor, cfg: RunConfig):
        super().__init__()
        self.register_buffer("latents", latents.float().cpu())
        self.register_buffer("prototypes", nets.require_prototypes().float().cpu())
        self.projector = nets.projector.cpu() if cfg.cluster_on == "z" else None
        self.cond_decoder = nets.require_cond_decoder().cpu()

    def forward(self, weights: torch.Tensor, temperature: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        w = weights.clamp(min=0)
        h = (w / w.sum(dim=1, keepdim=True).clamp(min=1e-12)) @ self.latents
        c = h if self.projector is None else self.projector(h)
        s = soft_assign(c, self.prototypes, temperature)
        return self.cond_decoder(h, s), s


def write_onnx(mixer: PrototypeMixer, path: Path) -> Path:
    """Export the mixer (eval mode, free batch size) to an ONNX file, written atomically
    (`files.atomic_write`: a full disk is one CaeError line and the previous file is kept)."""
    k = len(mixer.prototypes)
    program = torch.onnx.export(mixer.eval(), (torch.eye(k)[:2], torch.ones(1)),
                                output_names=["image", "assignment"],
                                dynamic_shapes={"weights": {0: Dim("batch")}, "temperature": None},
                                opset_version=OPSET, dynamo=True, verbose=False)
    assert program is not None  # the dynamo exporter returns the program
    graph = program.model_proto.SerializeToString()
    atomic_write(path, lambda handle: handle.write(graph), binary=True)
    return path


def describe(mixer: PrototypeMixer, c_train: torch.Tensor, data: Dataset, cfg: RunConfig,
             run_name: str) -> dict:
    """What the explorer page needs beside the graph: the run, its temperature, the inputs,
    and each prototype's class fractions among the train images nearest to it."""
    prototypes = mixer.prototypes
    fractions = mapping_protocol(c_train, data.splits["train"].labels, prototypes, prototypes,
                                 data.n_classes).scores
    return {
        "run": run_name, "dataset": cfg.dataset, "cluster_on": cfg.cluster_on,
        "assign_temperature": cfg.assign_temperature, "channels": data.n_channels,
        "class_names": data.class_names, "opset": OPSET,
        "inputs": {"weights": "(batch, k) float32, >= 0, scaled to sum 1",
                   "temperature": "(1,) float32 > 0, for every row"},
        "outputs": {"image": "(batch, channels, 28, 28) float32 in [0, 1]",
                    "assignment": "(batch, k) float32, the soft assignment s"},
        "prototypes": [{"class": data.class_names[int(row.argmax())],
                        "class_fractions": [round(float(f), 4) for f in row]}
                       for row in fractions],
    }


def export_decoder(run_dir: Path, data_dir: str | None = None) -> Path:
    """Write a finished run's conditional decoder as `decoder.onnx` (a `PrototypeMixer`)
    with `decoder.json` beside it; return the ONNX file's path. Needs the run's checkpoint
    and its dataset (the prototype latents and classes come from the train latents), read
    from data_dir when given, else from the run config's."""
    run_dir = Path(run_dir)
    cfg = load_config(run_dir / "config.json")
    if data_dir:
        cfg = replace(cfg, data_dir=data_dir).validate()
    check_results_config(cfg, run_dir, "config.json was changed after them; score the run "
                                       "again with `cae evaluate --overwrite` first")
    data = load(cfg)
    device = torch.device("cpu")
    nets = load_networks(cfg, run_dir, data.n_channels, device)
    h_train = encode(nets.encoder, data.splits["train"].images, device,
                     resolve_precision(cfg.precision, device))
    c_train = clustered(nets, h_train, cfg)
    mixer = PrototypeMixer(nets, prototype_latents(nets, h_train, c_train,
                                                            cfg.cluster_on), cfg)
    path = write_onnx(mixer, run_dir / DECODER_ONNX)
    write_json(run_dir / DECODER_JSON, describe(mixer, c_train, data, cfg, run_dir.name))
    return path
