"""The paper's future work: a clustering head learned on the frozen encoder, in place of KMeans.

Two methods from the literature, both with as many clusters as classes:

- `scan`: SCAN (Van Gansbeke et al., 2020). A small MLP maps each latent to cluster
  probabilities; its loss pulls every sample's probabilities towards those of one of its
  nearest neighbours in the latent space, and an entropy term keeps all clusters in use.
  Several heads start from different seeds and the one with the lowest loss is kept (no
  label is read); self-labelling then fine-tunes it on its own confident predictions.
- `n2d`: N2D (McConville et al., 2021). UMAP embeds the latents in a few dimensions that
  keep their neighbourhoods; a Gaussian mixture clusters that embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cae.config import RunConfig

SCAN_BATCH = 512
SCAN_LR = 1e-3
SCAN_HIDDEN = 512
SELF_LABEL_LR = 1e-4
CONFIDENCE = 0.99  # SCAN's threshold for a prediction to become a self-label
N2D_DIMENSIONS = 10
N2D_MAX_FIT = 20_000  # UMAP is fitted on at most this many latents, then maps the rest


@dataclass
class HeadSettings:
    """What a clustering head needs besides the latents (the run's config fields `head_*`)."""

    method: str = "scan"
    neighbours: int = 20
    epochs: int = 40
    entropy_weight: float = 5.0
    restarts: int = 4
    self_label_epochs: int = 10

    @classmethod
    def of(cls, cfg: RunConfig) -> HeadSettings:
        return cls(cfg.head_method, cfg.head_neighbours, cfg.head_epochs, cfg.head_entropy_weight,
                   cfg.head_restarts, cfg.head_self_label_epochs)


def nearest_neighbours(x: torch.Tensor, k: int, chunk_size: int = 512) -> torch.Tensor:
    """Indices (n, k) of each row's k most cosine-similar other rows, nearest first.

    Rows run in chunks: with 50,000 MNIST latents a chunk of 2,048 held a 400 MB
    similarity block and as much again in topk, the peak of a whole MNIST run; 512 rows
    cost a quarter of that at the same speed."""
    x = F.normalize(x.float(), dim=1)
    k = min(k, len(x) - 1)
    rows = []
    for start, chunk in zip(range(0, len(x), chunk_size), x.split(chunk_size)):
        similarity = chunk @ x.T
        similarity[torch.arange(len(chunk)), torch.arange(start, start + len(chunk))] = -2.0
        rows.append(similarity.topk(k, dim=1).indices)
    return torch.cat(rows)


def scan_loss(logits: torch.Tensor, neighbour_logits: torch.Tensor,
              entropy_weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SCAN's loss: (total, consistency, entropy), total = consistency - weight * entropy.

    consistency = -mean_i log <p_i, p_j(i)> over anchors i and one neighbour j(i) each;
    entropy = H(mean_i p_i), the entropy of the mean cluster distribution.
    """
    p, q = F.softmax(logits, dim=1), F.softmax(neighbour_logits, dim=1)
    consistency = -torch.log((p * q).sum(dim=1).clamp_min(1e-8)).mean()
    mean = p.mean(dim=0)
    entropy = -(mean * torch.log(mean.clamp_min(1e-8))).sum()
    return consistency - entropy_weight * entropy, consistency, entropy


def _mlp(dim: int, n_clusters: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, SCAN_HIDDEN), nn.BatchNorm1d(SCAN_HIDDEN), nn.ReLU(),
                         nn.Linear(SCAN_HIDDEN, n_clusters))


def _train_scan(x: torch.Tensor, neighbours: torch.Tensor, n_clusters: int, settings: HeadSettings,
                seed: int) -> tuple[nn.Sequential, float]:
    """One SCAN head from one seed; returns it with its summed loss over the last epoch."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = _mlp(x.shape[1], n_clusters)
    optimizer = torch.optim.Adam(head.parameters(), lr=SCAN_LR, weight_decay=1e-4)
    last = 0.0
    for _ in range(settings.epochs):
        last = 0.0
        for batch in torch.randperm(len(x), generator=generator).split(SCAN_BATCH):
            pick = torch.randint(0, neighbours.shape[1], (len(batch),), generator=generator)
            total, _, _ = scan_loss(head(x[batch]), head(x[neighbours[batch, pick]]),
                                    settings.entropy_weight)
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
            last += float(total.detach())
    return head.eval(), last


def _self_label(head: nn.Sequential, x: torch.Tensor, epochs: int, seed: int) -> nn.Sequential:
    """Fine-tune the head with cross-entropy on its own confident predictions (class-balanced)."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(head.parameters(), lr=SELF_LABEL_LR, weight_decay=1e-4)
    output_layer = head[-1]
    assert isinstance(output_layer, nn.Linear)  # `_mlp` ends in the Linear to the clusters
    n_clusters = output_layer.out_features
    for _ in range(epochs):
        with torch.no_grad():
            confidence, labels = F.softmax(head.eval()(x), dim=1).max(dim=1)
        keep = (confidence > CONFIDENCE).nonzero().squeeze(1)
        if len(keep) < SCAN_BATCH:
            break
        counts = torch.bincount(labels[keep], minlength=n_clusters).float()
        weight = counts.sum() / counts.clamp_min(1) / n_clusters
        head.train()
        for batch in keep[torch.randperm(len(keep), generator=generator)].split(SCAN_BATCH):
            loss = F.cross_entropy(head(x[batch]), labels[batch], weight=weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return head.eval()


def _standardise(train_h: torch.Tensor, eval_hs: dict[str, torch.Tensor]):
    """L2-normalised latents scaled by the train mean and std of each dimension."""
    x = F.normalize(train_h.float(), dim=1)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    return (x - mean) / std, {s: (F.normalize(h.float(), dim=1) - mean) / std
                              for s, h in eval_hs.items()}


def scan_clusters(train_h: torch.Tensor, eval_hs: dict[str, torch.Tensor], n_clusters: int,
                  seed: int, settings: HeadSettings) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """SCAN on the frozen latents: cluster of every train row and of every eval row."""
    x, eval_x = _standardise(train_h.cpu(), {s: h.cpu() for s, h in eval_hs.items()})
    neighbours = nearest_neighbours(train_h.cpu(), settings.neighbours)
    heads = [_train_scan(x, neighbours, n_clusters, settings, seed + r)
             for r in range(settings.restarts)]
    head = _self_label(min(heads, key=lambda pair: pair[1])[0], x, settings.self_label_epochs, seed)
    with torch.no_grad():
        return (head(x).argmax(1).numpy(),
                {s: head(v).argmax(1).numpy() for s, v in eval_x.items()})


def n2d_clusters(train_h: torch.Tensor, eval_hs: dict[str, torch.Tensor], n_clusters: int,
                 seed: int, settings: HeadSettings) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """N2D on the frozen latents: UMAP (cosine, min_dist 0) to 10 dimensions, then a GMM.

    UMAP is fitted on a seeded sample of at most N2D_MAX_FIT train rows (its cost grows
    faster than linearly) and maps every other row with its `transform`.
    """
    import umap  # imported here: numba compiles on first import, which takes seconds

    train = F.normalize(train_h.float().cpu(), dim=1).numpy()
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.permutation(len(train))[:N2D_MAX_FIT])
    reducer = umap.UMAP(n_components=N2D_DIMENSIONS, n_neighbors=settings.neighbours,
                        min_dist=0.0, metric="cosine", random_state=seed,
                        n_jobs=1).fit(train[fit_rows])
    embed = {"train": reducer.transform(train)}
    embed.update({s: reducer.transform(F.normalize(h.float().cpu(), dim=1).numpy())
                  for s, h in eval_hs.items()})
    mixture = fit_mixture(embed["train"], n_clusters, seed, settings.restarts)
    return (mixture.predict(embed["train"]),
            {s: mixture.predict(embed[s]) for s in eval_hs})


def fit_mixture(points: np.ndarray, n_clusters: int, seed: int, restarts: int):
    """A full-covariance GMM on points. UMAP with min_dist 0 can stack a cluster onto a
    line or a point, where the float32 covariance is not positive definite and sklearn
    refuses; then the fit is repeated in float64 with a covariance floor of 1e-3 of the
    points' mean variance (a fit that works is never changed)."""
    from sklearn.mixture import GaussianMixture

    try:
        return GaussianMixture(n_clusters, covariance_type="full", random_state=seed,
                               n_init=restarts).fit(points)
    except ValueError:
        points = points.astype(np.float64)
        floor = max(1e-3 * float(points.var(axis=0).mean()), 1e-6)
        return GaussianMixture(n_clusters, covariance_type="full", random_state=seed,
                               n_init=restarts, reg_covar=floor).fit(points)


def head_clusters(train_h: torch.Tensor, eval_hs: dict[str, torch.Tensor], n_clusters: int,
                  seed: int, settings: HeadSettings) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The clusters of the configured head method (`scan` or `n2d`)."""
    method = {"scan": scan_clusters, "n2d": n2d_clusters}[settings.method]
    return method(train_h, eval_hs, n_clusters, seed, settings)
