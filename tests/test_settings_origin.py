"""Settings that say where they come from: the config file, the staff page or
the default; `config check` shows the ones really in effect, the start log
names each file setting the staff page beats, and the page puts the file's back."""

from __future__ import annotations

import logging

from device.cli import main
from device.config import load_layers, settings_path
from device.service.hub import StateHub
from device.service.settings import LiveSettings
from device.store import accounts, connect
from tests.helpers import PASSWORD, login, post

FILE = '[coach]\nset_reps = 8\nsets = 3\n[store]\npath = "{data}/s.db"\n[log]\ndir = "{data}/log"\n'


def staff_saves(tmp_path, values: dict):
    """The config file, then a staff save over it, as the settings page makes one."""
    data = tmp_path / "data"
    cfg = tmp_path / "config.toml"
    cfg.write_text(FILE.format(data=data))
    layers = load_layers(cfg, data / "settings.toml")
    live = LiveSettings(layers.config, data / "settings.toml", layers=layers)
    live.change(dict(live.values(), **values))
    return cfg, live


def test_config_check_shows_the_settings_in_effect_and_where_each_comes_from(tmp_path, capsys):
    cfg, _ = staff_saves(tmp_path, {"coach.set_reps": 5, "coach.sets": 2, "display.chime": False})
    assert main(["config", "check", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "set_reps = 5  # staff page (the file says 8)" in out
    assert "sets = 2  # staff page (the file says 3)" in out
    assert "chime = false  # staff page\n" in out  # the file does not set it: the default's beaten
    assert "rest_s = 90.0  # default" in out and 'path = "' in out and "s.db\"  # file" in out
    assert "the settings in effect" in out.lower() and str(tmp_path / "data/settings.toml") in out


def test_only_what_staff_set_apart_from_the_file_is_kept_over_it(tmp_path):
    cfg, live = staff_saves(tmp_path, {"coach.set_reps": 5})
    kept = (tmp_path / "data/settings.toml").read_text()
    assert "set_reps = 5" in kept and "sets" not in kept and "chime" not in kept
    # A home user's later edit of the file's other keys takes effect.
    cfg.write_text(cfg.read_text().replace("sets = 3", "sets = 4"))
    layers = load_layers(cfg, tmp_path / "data/settings.toml")
    assert (layers.config.coach.set_reps, layers.config.coach.sets) == (5, 4)
    assert layers.origin("coach.set_reps") == "staff page" and layers.origin("coach.sets") == "file"
    # Set back to the file's value on the page: the file's again, nothing kept.
    live.change(dict(live.values(), **{"coach.set_reps": 8}))
    assert "set_reps" not in (tmp_path / "data/settings.toml").read_text()


def test_the_start_log_names_each_file_setting_the_staff_page_beats(tmp_path, monkeypatch,
                                                                    caplog):
    import device.app as app

    cfg, _ = staff_saves(tmp_path, {"coach.set_reps": 5, "coach.sets": 2, "display.chime": False})
    monkeypatch.setattr(app, "run_device", lambda config, **kw: 0)
    with caplog.at_level(logging.WARNING, "device.config"):
        assert main(["run", "--config", str(cfg)]) == 0
    said = [r.getMessage() for r in caplog.records if r.name == "device.config"]
    assert len(said) == 2, said  # set_reps and sets: the file sets them; chime it does not
    assert said[0].startswith("setting coach.set_reps = 5 from the staff page (") and (
        "overrides the config file's 8" in said[0])
    assert said[1].startswith("setting coach.sets = 2 from the staff page")


def test_the_settings_page_puts_the_files_value_back(tmp_path):
    from web_ui import create_app

    cfg, live = staff_saves(tmp_path, {"coach.set_reps": 5, "display.chime": False})
    store = tmp_path / "data" / "s.db"
    app = create_app({"TESTING": True, "SECRET_KEY": "test-only", "STORE_PATH": str(store)},
                     hub=StateHub(), health=lambda: {"ok": True, "uptime_s": 1}, settings=live)
    accounts.add(connect(store), "ana", "admin", PASSWORD)
    admin = login(app)
    page = admin.get("/staff/settings").get_data(as_text=True)
    assert 'data-testid="reset-coach.set_reps"' in page and "the config file says 8" in page
    assert "the default says on" in page  # the chime: the file does not set it
    assert 'data-testid="reset-coach.sets"' not in page and "from the config file" in page
    assert post(admin, "/staff/settings", {"reset": "coach.set_reps"}).status_code == 200
    assert live.config.coach.set_reps == 8 and live.config.display.chime is False
    kept = (tmp_path / "data/settings.toml").read_text()
    assert "set_reps" not in kept and "chime = false" in kept
    assert load_layers(cfg, settings_path(live.config)).config.coach.set_reps == 8
