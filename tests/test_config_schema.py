"""The config schema is the one source of every setting: the checks, the staff
form, the commented default config and docs/configuration.md all come from it."""

import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from device import config as schema_
from device.cli import main
from device.config import SETTINGS, Config, ConfigValueError, load_layers, merge

ROOT = Path(__file__).resolve().parents[1]


def test_the_configuration_page_is_the_schemas():
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert page == schema_.reference_markdown(), (
        "docs/configuration.md is stale: "
        "python -m device.config --markdown > docs/configuration.md")


def test_every_setting_says_what_it_is_and_its_default_passes_its_own_check():
    for section, f in schema_.schema():
        assert f.metadata["doc"].strip(), f"{section}.{f.name} has no doc"
        check = f.metadata["check"]
        if check:
            assert check[0](f.default), f"{section}.{f.name}'s default fails its own check"
            assert check[1].startswith("must "), check[1]


def test_the_commented_defaults_are_a_config_that_loads_to_the_defaults(tmp_path, capsys):
    text = schema_.defaults_toml()
    raw = tomllib.loads(text)
    every = {(s, f.name) for s, f in schema_.schema()}
    assert {(s, k) for s, keys in raw.items() for k in keys} == every
    path = tmp_path / "config.toml"
    path.write_text(text)
    layers = load_layers(path)
    assert layers.config == Config()
    assert main(["config", "check", "--defaults"]) == 0
    assert capsys.readouterr().out == text
    assert main(["config", "check", str(path), "--defaults"]) == 2  # one or the other


def test_the_staff_form_is_the_settings_with_a_label_and_the_kind_of_their_type():
    form = schema_.form_fields()
    assert list(form) == [f"{s}.{k}" for s, k in SETTINGS]
    assert SETTINGS, "no setting is on the staff page"
    for name, (label, kind, choices) in form.items():
        section, _, key = name.partition(".")
        default = getattr(getattr(Config(), section), key)
        assert label
        assert kind == ("choice" if choices else type(default).__name__)
        if choices:
            assert default in choices


@pytest.mark.parametrize("key, value, words", [
    ("coach.set_reps", 101, "must be 0..100 (0: no target)"),
    ("server.https_port", 70000, "must be 0..65535 (0: the console on this machine only)"),
    ("backup.every_h", 0.5, "must be 0 or 1..744 hours (0: no scheduled backups)"),
    ("camera.rotation", 45, "must be 0, 90, 180 or 270"),
    ("coach.sensitivity", "loose", "must be one of relaxed, standard, strict"),
    ("display.sleep_s", 5.0, "must be 0 or 10..86400 s (0: never)"),
    ("mqtt.topic", "a/#", "must be a topic without wildcards (# or +)"),
])
def test_a_value_out_of_its_range_is_refused_in_the_schemas_words(key, value, words):
    section, _, name = key.partition(".")
    with pytest.raises(ConfigValueError) as err:
        merge(Config(), {section: {name: value}}, "test")
    assert err.value.key == key and err.value.why == words
    zero = {section: {name: 0}} if "0 or" in words else None
    if zero:  # "0 or a..b": 0 passes
        merge(Config(), zero, "test")


def test_the_appliances_config_file_is_checked_by_the_same_schema():
    path = ROOT / "systemd" / "config.toml"
    layers = load_layers(path)
    known = {(s.name, f.name) for s in fields(Config) for f in fields(s.default)}
    raw = tomllib.loads(path.read_text())
    assert {(s, k) for s, keys in raw.items() for k in keys} <= known
    assert layers.config.store.path.startswith("/var/lib/hinge-mirror/")
