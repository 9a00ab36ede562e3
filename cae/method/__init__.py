"""The method: networks, augmentation, losses, LARS, the two phases, checkpoints, prototypes."""
