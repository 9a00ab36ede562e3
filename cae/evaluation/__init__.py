"""Scoring a trained run: the three protocols, floors, baselines, the clustering screen, ONNX export."""
