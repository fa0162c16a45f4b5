"""Commands over recordings: analyze, eval (with threshold margins), bench."""
