"""The coaching core: keypoints in, reps, faults and cues out.

Pure numpy and the standard library: no I/O, no clocks (time arrives as
``t_s`` in seconds), no threads, no logging setup.
"""
