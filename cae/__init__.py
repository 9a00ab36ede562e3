"""cae: contrastive autoencoder for unsupervised medical image clustering and reconstruction."""

from cae.config import RunConfig, make_config
from cae.data.datasets import load_dataset
from cae.errors import CaeError

__all__ = ["CaeError", "RunConfig", "load_dataset", "make_config"]
__version__ = "0.1.0"
