"""Datasets: MedMNIST/MNIST loading, splits, the dataset descriptions and notes."""
