"""The method itself: networks, augmentation, losses, LARS, the two training phases, checkpoints, prototypes, sampling."""
