"""The camera and model edge: frame sources, the pose model and its runtime, model files, tracks."""

MODES = ("crop", "letterbox")
"""How a frame is fitted to the model's square input (here, not in pose.py, so
that reading a config never imports OpenCV)."""
