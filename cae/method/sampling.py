"""Sampling from a cluster: new images from one prototype's region of a variational run.

The paper notes its framework "allows sampling from a specific cluster if used in a
variational setting". Under `variational = True` every image has a Gaussian posterior
N(h, exp(logvar)) in latent space. A prototype's region is the mixture of the posteriors
of the training images whose nearest prototype it is: a sample picks one such image at
random, draws h from its posterior, computes the soft assignment s of that h to the
prototypes (in the clustered space, h or z) and decodes (h, s) with the conditional
decoder.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cae.config import RunConfig
from cae.errors import CaeError
from cae.infra.runtime import encode
from cae.method.clustering import nearest_prototype, soft_assign
from cae.method.losses import reparameterise
from cae.method.networks import Networks, clustered


def cluster_samples(nets: Networks, images: torch.Tensor, cfg: RunConfig, device: torch.device,
                    per_cluster: int = 8, seed: int = 0) -> torch.Tensor:
    """`per_cluster` new images from each prototype's region: (k, per_cluster, C, 28, 28).

    A prototype that no training image is nearest to gets blank images."""
    if not cfg.variational:
        raise CaeError("sampling from a cluster needs a variational run (--set variational=true)")
    mean, logvar = encode(nets.encoder, images, device, with_logvar=True)
    prototypes = nets.require_prototypes().float().cpu()
    members = nearest_prototype(clustered(nets, mean, cfg), prototypes)
    g = torch.Generator().manual_seed(seed)
    samples = []
    cond_decoder = nets.require_cond_decoder()
    cond_decoder.eval()
    for i in range(len(prototypes)):
        own = torch.nonzero(members == i).flatten()
        if len(own) == 0:
            samples.append(torch.zeros(per_cluster, *images.shape[1:]))
            continue
        pick = own[torch.randint(len(own), (per_cluster,), generator=g)]
        h = reparameterise(mean[pick], logvar[pick], g)
        s = soft_assign(clustered(nets, h, cfg), prototypes, cfg.assign_temperature)
        with torch.no_grad():
            samples.append(cond_decoder(h.to(device), s.to(device)).float().cpu())
    return torch.stack(samples)


def prototype_latents(nets: Networks, h_train: torch.Tensor, c_train: torch.Tensor,
                      cluster_on: str) -> torch.Tensor:
    """One latent h per prototype, for the decoder: the prototype's direction at the median
    latent norm when h is clustered; the mean h of its nearest train members when z is."""
    prototypes = nets.require_prototypes().float().cpu()
    if cluster_on == "h":
        return F.normalize(prototypes, dim=1) * h_train.norm(dim=1).median()
    members = nearest_prototype(c_train.float(), prototypes)
    return torch.stack([h_train[members == i].mean(0) if (members == i).any()
                        else torch.zeros(h_train.shape[1]) for i in range(len(prototypes))])


def decode_prototypes(nets: Networks, h_train: torch.Tensor, c_train: torch.Tensor, cfg: RunConfig,
                      device: torch.device) -> torch.Tensor:
    """Images of the prototypes: each prototype's latent (`prototype_latents`) decoded with
    the prototype's own soft assignment s."""
    latents = prototype_latents(nets, h_train, c_train, cfg.cluster_on).to(device)
    prototypes, cond_decoder = nets.require_prototypes(), nets.require_cond_decoder()
    with torch.no_grad():
        cond_decoder.eval()
        return cond_decoder(latents, soft_assign(prototypes, prototypes,
                                                 cfg.assign_temperature)).float().cpu()
