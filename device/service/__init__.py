"""The running device: pipeline, supervisor, state hub, web server, settings, backups, TLS."""
