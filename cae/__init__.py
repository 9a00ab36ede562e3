"""cae: contrastive autoencoder for unsupervised medical image clustering and reconstruction."""

from typing import Any

from cae.config import RunConfig, make_config
from cae.errors import CaeError

__all__ = ["CaeError", "RunConfig", "load_dataset", "make_config"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """`cae.load_dataset`, imported on first use, so that reading runs imports no torch."""
    if name == "load_dataset":
        from cae.data.datasets import load_dataset
        return load_dataset
    raise AttributeError(f"module 'cae' has no attribute {name!r}")
