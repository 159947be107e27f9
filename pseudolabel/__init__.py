"""Pseudo-labels for training the selector: spatial, temporal and annotation signals, a label store, sharded resumable jobs."""
