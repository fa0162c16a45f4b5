"""Hinge Mirror on-device runtime: camera, pose model, coaching core, pipeline, CLI."""

__version__ = "0.1.0"
