"""The running device: pipeline, state hub, web server, speech, and `hinge-mirror run`."""
