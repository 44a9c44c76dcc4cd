"""Declarative workflow definitions: the canonical model, loaders for each dialect, validation."""
