"""The paper's two baselines on an ImageNet ResNet-18: a trained fc head ("ResNet18") and "Feature+KM".

Every baseline result must carry the `weights_label` that `load_resnet18` returns, so
that a run on untrained weights can never pass for the paper's baseline.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import ResNet, ResNet18_Weights, resnet18

from cae import names
from cae.config import RunConfig
from cae.data.datasets import Dataset, folder_for_download
from cae.errors import CaeError
from cae.evaluation.protocols import (
    Prediction,
    head_prediction,
    mapping_protocol,
    train_linear_head,
)
from cae.evaluation.scoring import score_rows
from cae.infra.allocator import release_freed_memory
from cae.infra.runtime import Runtime
from cae.method.clustering import ElbowResult, normalised_elbow

IMAGENET_WEIGHTS = ResNet18_Weights.IMAGENET1K_V1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_cache_path() -> Path:
    """Where torchvision looks for (and downloads) the ImageNet ResNet-18 weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(IMAGENET_WEIGHTS.url)


def download_imagenet_weights(path: Path) -> None:
    """torchvision's ImageNet ResNet-18 weights, fetched to path by torch.hub's downloader
    (hash prefix checked); silent unless it worked, and leaves no empty folder if not."""
    match = torch.hub.HASH_REGEX.search(os.path.basename(IMAGENET_WEIGHTS.url))
    if match is None:
        raise CaeError(f"{IMAGENET_WEIGHTS.url} names no hash to check the download against; "
                       f"download the weights yourself to {path}")
    prefix = match.group(1)
    with folder_for_download(path.parent):
        torch.hub.download_url_to_file(IMAGENET_WEIGHTS.url, str(path), hash_prefix=prefix,
                                       progress=False)
    print(f"downloaded the ImageNet ResNet-18 weights to {path}", file=sys.stderr)


def load_resnet18(weights_path: str | None = None, allow_untrained: bool = False,
                  seed: int = 0) -> tuple[ResNet, str]:
    """ResNet-18 with ImageNet weights, labelled "imagenet", or a seeded untrained one, "untrained".

    The weights come from `weights_path` if given, else from the torch hub cache file, else
    from a download into that file; untrained weights are used only when `allow_untrained`
    is set.
    """
    path = Path(weights_path) if weights_path is not None else imagenet_cache_path()
    failure = None
    if weights_path is None and not path.is_file():
        try:
            download_imagenet_weights(path)
        except (OSError, RuntimeError) as exc:  # offline, proxy, read-only cache, bad hash
            failure = exc
    if path.is_file():
        model = resnet18()
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model, "imagenet"
    if weights_path is not None:
        raise CaeError(f"ResNet-18 weights file {weights_path} not found; download "
                       f"{IMAGENET_WEIGHTS.url} there or leave --weights-path unset")
    if not allow_untrained:
        raise CaeError(f"cannot get the ImageNet ResNet-18 weights ({failure}); download "
                       f"{IMAGENET_WEIGHTS.url} to {imagenet_cache_path()} (or pass "
                       "--weights-path FILE), or pass --allow-untrained-weights to run the "
                       "baselines on an untrained network")
    print(f"WARNING: ImageNet ResNet-18 weights unavailable (not at {imagenet_cache_path()}); the "
          "baselines use an UNTRAINED, randomly initialised ResNet-18 and are labelled "
          "weights=untrained: they are NOT the paper's baselines", file=sys.stderr)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return resnet18(), "untrained"


def resnet_features(model: ResNet, images_uint8: torch.Tensor, image_size: int = 28,
                    batch_size: int = 256, device: str | torch.device = "cpu") -> torch.Tensor:
    """Frozen avgpool features (N, 512) of uint8 images: grey to RGB, [0, 1], resize, ImageNet normalisation.

    Puts the model in eval mode (BatchNorm uses its stored ImageNet statistics).
    """
    backbone = nn.Sequential(*list(model.children())[:-1]).eval().to(device)  # everything up to avgpool
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    features = []
    with torch.no_grad():
        for batch in images_uint8.split(batch_size):
            x = (batch.to(device).float() / 255).expand(-1, 3, -1, -1)  # grey: one channel to three
            if image_size != x.shape[-1]:
                x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
            features.append(backbone((x - mean) / std).flatten(1).cpu())
    return torch.cat(features)


def transfer_baseline(train_feats: torch.Tensor, train_y: torch.Tensor | np.ndarray,
                      eval_feats: dict[str, torch.Tensor], n_classes: int, epochs: int, lr: float,
                      batch_size: int, seed: int) -> dict[str, Prediction]:
    """The paper's "ResNet18" row: a new fc layer with Adam on the whole train set, backbone frozen.

    Nothing before the fc trains and there is no augmentation, so training the fc on
    precomputed avgpool features is the same computation; the fc sees raw features.
    """
    head = train_linear_head(train_feats, train_y, n_classes, epochs, lr, batch_size, seed,
                             standardize=False)
    return {name: head_prediction(head, h) for name, h in eval_feats.items()}


def kmeans_baseline(train_feats: torch.Tensor, train_y: torch.Tensor | np.ndarray,
                    eval_feats: dict[str, torch.Tensor], n_classes: int, k_min: int, k_max: int,
                    seed: int, n_init: int = 10,
                    metric: str = "distortion") -> tuple[ElbowResult, dict[str, Prediction]]:
    """The paper's "Feature+KM" row: KMeans with the elbow on the features, then mapping protocol (a).

    KMeans runs on L2-normalised features so that its Euclidean clusters agree with the
    cosine nearest-centroid assignment the mapping uses (closely, not exactly: the
    centroids of unit vectors are shorter than 1 and not all of the same length).
    """
    elbow = normalised_elbow(train_feats, k_min, k_max, seed, n_init, metric)
    prototypes = torch.from_numpy(elbow.centroids)
    return elbow, {name: mapping_protocol(train_feats, train_y, h, prototypes, n_classes)
                   for name, h in eval_feats.items()}


def baseline_rows(cfg: RunConfig, data: Dataset, runtime: Runtime | None = None) -> list[dict]:
    """The paper's two ResNet-18 baselines, each row labelled with the weights used."""
    device = (runtime or Runtime.resolve(cfg.device, cfg.precision, cfg.kernels)).device
    model, weights = load_resnet18(cfg.weights_path, cfg.allow_untrained_weights, cfg.seed)
    feats = {s: resnet_features(model, data.splits[s].images, cfg.resnet_image_size, 256, device)
             for s in data.splits}
    eval_feats = {s: feats[s] for s in data.eval_splits}
    train_y = data.splits["train"].labels
    transfer = transfer_baseline(feats["train"], train_y, eval_feats, data.n_classes,
                                 cfg.resnet_epochs, cfg.resnet_lr, cfg.probe_batch_size, cfg.seed)
    release_freed_memory()  # Feature+KM's KMeans search is this phase's memory peak
    elbow, mapped = kmeans_baseline(feats["train"], train_y, eval_feats, data.n_classes,
                                    cfg.k_min, cfg.k_max, cfg.seed, cfg.kmeans_n_init,
                                    cfg.elbow_metric)
    return (score_rows(names.RESNET, {names.TRANSFER: transfer}, data, cfg.seed, weights=weights)
            + score_rows(names.FEATURE_KM, {names.STAT: mapped}, data, cfg.seed, weights=weights))
