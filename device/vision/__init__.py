"""The camera and model edge: frame sources, the pose model and its runtime, model files, tracks."""
