"""A client's program: its one schema, its JSON and its row in the store.

A program is a list of blocks, set by a clinician for one client code. Each
block says the exercise (device/core/exercises.EXERCISES), sets x reps, the
rest between sets, optionally a tempo (seconds down / hold / up), optionally a
range limit (the deepest hip flexion allowed, for a patient after surgery),
the faults to stress or to relax (per fault id of device/core/skeleton.FAULTS:
relaxed, standard or strict, the factors of `[coach] sensitivity`) and a
short note for the patient.

Every field carries its metadata (`spec`): its label, unit, check and the
words an error gives, as device/config.py's settings do. The console's form
(`from_form`) and the JSON import both go through `parse`, which names the
block and the field of every error in one line ("block 2: reps = 0 must be
1..100"); `to_dict` is the export and the stored text, and `parse(to_dict(p))
== p`.

Stored since store schema 7, one row per client code (upper-case, as
queries.client_code), the program's JSON in it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any

from device.core.exercises import DEFAULT, EXERCISES, NOT_BUILT, NOT_FOR
from device.core.skeleton import FAULTS
from device.errors import HingeMirrorError
from device.store import queries

VERSION = 1  # of the program's JSON; a newer one is refused
MAX_BLOCKS = 12
# A fault's sensitivity -> the factor on its threshold's tolerance: the words
# and factors of [coach] sensitivity (device/config.SENSITIVITY), per fault.
SENSITIVITY = {"relaxed": 1.25, "standard": 1.0, "strict": 0.8}
NOTE_MAX = 200

Check = tuple[Callable[[Any], bool], str]  # (passes, the words when it does not)
TYPE_WORDS = {int: "a whole number", float: "a number", str: "text"}


def spec(default: Any, label: str, kind: type, check: Check | None = None, *,
         unit: str = "", required: bool = False, optional: bool = False) -> Any:
    """A program field with its metadata: `label`, the form's words; `kind`,
    its type in JSON; `check`, what a value must pass and the error's words;
    `required`, it has no default in JSON; `optional`, null (an empty form
    field) means none."""
    return field(default=default, metadata={"label": label, "kind": kind, "check": check,
                                            "unit": unit, "required": required,
                                            "optional": optional})


def within(lo: float, hi: float, unit: str = "") -> Check:
    return (lambda v: lo <= v <= hi), f"must be {lo:g}..{hi:g}{' ' + unit if unit else ''}"


def _one_line(limit: int) -> Check:
    return ((lambda v: len(v) <= limit and v.isprintable()),
            f"must be at most {limit} characters on one line")


@dataclass(frozen=True)
class Tempo:
    """Seconds down, held at the bottom, and up, per rep."""

    down_s: float = spec(3.0, "down", float, within(0.5, 10, "s"), unit="s", required=True)
    hold_s: float = spec(0.0, "hold", float, within(0, 10, "s"), unit="s", required=True)
    up_s: float = spec(2.0, "up", float, within(0.5, 10, "s"), unit="s", required=True)


@dataclass(frozen=True)
class Block:
    """One exercise, sets x reps, and how it is to be done."""

    exercise: str = spec(DEFAULT, "exercise", str, (
        lambda v: v in EXERCISES,
        f"must be one of {', '.join(EXERCISES)} ({', '.join(NOT_BUILT)}: not built yet)"),
        required=True)
    sets: int = spec(3, "sets", int, within(1, 20), required=True)
    reps: int = spec(8, "reps", int, within(1, 100), required=True)
    rest_s: int = spec(60, "rest between sets", int, within(0, 600, "s"), unit="s")
    tempo: Tempo | None = spec(None, "tempo (down / hold / up)", Tempo, optional=True)
    max_hip_deg: float | None = spec(None, "deepest hip flexion allowed", float,
                                     within(20, 150, "degrees"), unit="°", optional=True)
    faults: dict = spec(None, "faults to stress or relax", dict)  # id -> relaxed | strict
    note: str = spec("", "note for the patient", str, _one_line(NOTE_MAX))

    def __post_init__(self) -> None:
        if self.faults is None:
            object.__setattr__(self, "faults", {})


@dataclass(frozen=True)
class Program:
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class FieldError:
    """One bad field: `block` (1-based; None for the program itself), `key`
    ("reps", "tempo.down_s", "faults.too_fast"), the value and why."""

    block: int | None
    key: str
    value: Any
    why: str

    def __str__(self) -> str:
        where = f"block {self.block}" if self.block is not None else "program"
        shown = self.key if self.value is MISSING else f"{self.key} = {self.value!r}"
        return f"{where}: {shown} {self.why}"


MISSING = object()  # FieldError's value for a field that is not there


class ProgramError(HingeMirrorError):
    """Every bad field of a program, each one line; nothing was saved."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(map(str, errors)))


def _value(f: Field, raw: Any, block: int | None, key: str,
           errors: list[FieldError]) -> Any:
    """`raw` for field `f` checked; a FieldError appended (and None back) if bad."""
    m = f.metadata
    want = m["kind"]
    if raw is None and m["optional"]:
        return None
    if want is float and type(raw) is int:
        raw = float(raw)  # 60 means 60.0 degrees
    if type(raw) is not (dict if want is Tempo else want):
        words = TYPE_WORDS.get(want) or ("a table of " + ", ".join(
            g.name for g in fields(want)) if want is not dict else "a table of fault: word")
        errors.append(FieldError(block, key, raw, f"must be {words}"
                                 + (" or null (none)" if m["optional"] else "")))
        return None
    check = m["check"]
    if check and not check[0](raw):
        errors.append(FieldError(block, key, raw, check[1]))
        return None
    return raw


def _table(cls: type, raw: dict, block: int | None, prefix: str,
           errors: list[FieldError]) -> dict:
    known = {f.name: f for f in fields(cls)}
    out: dict[str, Any] = {}
    for key in raw:
        if key not in known:
            errors.append(FieldError(block, prefix + key, MISSING,
                                     f"is not a known field (known: {', '.join(known)})"))
    for name, f in known.items():
        if name not in raw:
            if f.metadata["required"]:
                check = f.metadata["check"]
                errors.append(FieldError(block, prefix + name, MISSING, "is missing"
                                         + (f" (it {check[1]})" if check else "")))
            continue
        out[name] = _value(f, raw[name], block, prefix + name, errors)
    return out


def _faults(raw: dict, exercise: str | None, block: int,
            errors: list[FieldError]) -> dict[str, str]:
    out = {}
    for fault, word in raw.items():
        key = f"faults.{fault}"
        if fault not in FAULTS:
            errors.append(FieldError(block, key, MISSING,
                                     f"is not a fault (faults: {', '.join(FAULTS)})"))
        elif not isinstance(word, str) or word not in SENSITIVITY:
            errors.append(FieldError(block, key, word,
                                     "must be relaxed, standard or strict"))
        elif exercise in NOT_FOR and fault in NOT_FOR[exercise]:
            errors.append(FieldError(block, key, word,
                                     f"does not apply to {exercise}: it is never called"))
        elif word != "standard":  # standard is what a fault not named gets
            out[fault] = word
    return {f: out[f] for f in FAULTS if f in out}  # in the faults' order


def _block(raw: Any, number: int, errors: list[FieldError]) -> Block | None:
    if not isinstance(raw, dict):
        errors.append(FieldError(number, "block", raw, "must be a table of fields"))
        return None
    before = len(errors)
    values = _table(Block, raw, number, "", errors)
    if isinstance(values.get("tempo"), dict):
        tempo = _table(Tempo, values["tempo"], number, "tempo.", errors)
        values["tempo"] = Tempo(**tempo) if len(tempo) == 3 and None not in tempo.values() \
            else None
    if isinstance(values.get("faults"), dict):
        values["faults"] = _faults(values["faults"], values.get("exercise"), number, errors)
    return Block(**values) if len(errors) == before else None


def parse(raw: Any, numbers: list[int] | None = None) -> Program:
    """A program from its JSON's shape (`to_dict`'s), every field checked;
    ProgramError with every bad field otherwise. `numbers`: each block's number
    as the form shows it (1, 2, ... by default)."""
    errors: list[FieldError] = []
    if not isinstance(raw, dict):
        raise ProgramError([FieldError(None, "JSON", MISSING,
                                       "must be an object with \"blocks\"")])
    for key in raw:
        if key not in ("version", "client", "blocks"):
            errors.append(FieldError(None, key, MISSING,
                                     "is not a known key (known: version, client, blocks)"))
    version = raw.get("version", VERSION)
    if type(version) is not int or not 1 <= version <= VERSION:
        errors.append(FieldError(None, "version", version,
                                 f"must be 1..{VERSION} (a newer hinge-mirror wrote it?)"))
    blocks = raw.get("blocks", MISSING)
    if blocks is MISSING:
        errors.append(FieldError(None, "blocks", MISSING,
                                 f"is missing (a list of 1..{MAX_BLOCKS} blocks)"))
    elif not isinstance(blocks, list):
        errors.append(FieldError(None, "blocks", blocks, "must be a list of blocks"))
    elif not 1 <= len(blocks) <= MAX_BLOCKS:
        errors.append(FieldError(None, "blocks", MISSING, f"has {len(blocks)}: a program "
                                 f"has 1..{MAX_BLOCKS} blocks"))
    if errors or not isinstance(blocks, list):
        raise ProgramError(errors)
    numbers = numbers or list(range(1, len(blocks) + 1))
    out = [_block(b, n, errors) for b, n in zip(blocks, numbers, strict=True)]
    if errors:
        raise ProgramError(errors)
    return Program(tuple(out))


JSON_MAX = 64 * 1024  # characters: twelve blocks with their notes take under 6000


def loads(text: str) -> Program:
    """A program from JSON text (an import), checked like the form."""
    if len(text) > JSON_MAX:
        raise ProgramError([FieldError(None, "JSON", MISSING, f"is {len(text)} characters: "
                                       f"a program's is at most {JSON_MAX}")])
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ProgramError([FieldError(None, "JSON", MISSING, f"cannot be read ({exc})")]
                           ) from None
    return parse(raw)


def to_dict(program: Program, client: str | None = None) -> dict:
    """The program as JSON holds it (the export, the stored text): every field."""
    blocks = []
    for b in program.blocks:
        d = {f.name: getattr(b, f.name) for f in fields(Block)}
        d["tempo"] = None if b.tempo is None else {
            f.name: getattr(b.tempo, f.name) for f in fields(Tempo)}
        d["faults"] = dict(b.faults)
        blocks.append(d)
    return {"version": VERSION, **({"client": client} if client else {}), "blocks": blocks}


# The form: one set of fields per block, named "b<N>.<field>", "b<N>.tempo.<f>",
# "b<N>.faults.<fault id>". A block whose exercise is "" is no block (the page's
# empty slot, or one removed).
def form_fields() -> dict[str, tuple[str, str]]:
    """Each block field's name -> (label, unit), in the form's order."""
    return {f.name: (f.metadata["label"], f.metadata["unit"]) for f in fields(Block)}


def _typed(kind: type, text: str) -> Any:
    text = text.strip()
    try:
        return int(text) if kind is int else float(text) if kind is float else text
    except ValueError:
        return text  # parse says it is not a number, naming the block and field


def from_form(form: Mapping[str, str]) -> tuple[dict, list[int]]:
    """The form's blocks as `parse` takes them, and each block's number on the
    page (for the errors' words)."""
    numbers = sorted({int(k[1:].partition(".")[0]) for k in form
                      if k.startswith("b") and k[1:].partition(".")[0].isdigit()})
    blocks, shown = [], []
    for n in numbers:
        get = lambda key, n=n: form.get(f"b{n}.{key}", "")  # noqa: E731
        if not get("exercise").strip():
            continue
        raw: dict[str, Any] = {}
        for f in fields(Block):
            if f.name == "tempo":
                parts = {g.name: get(f"tempo.{g.name}").strip() for g in fields(Tempo)}
                raw["tempo"] = None if not any(parts.values()) else {
                    k: _typed(float, v) for k, v in parts.items() if v}
            elif f.name == "faults":
                raw["faults"] = {fault: get(f"faults.{fault}") for fault in FAULTS
                                 if get(f"faults.{fault}") not in ("", "standard")}
            elif f.name == "max_hip_deg":
                raw[f.name] = _typed(float, get(f.name)) if get(f.name).strip() else None
            elif f.name == "note":
                raw[f.name] = get(f.name).strip()
            else:
                raw[f.name] = _typed(f.metadata["kind"], get(f.name))
        blocks.append(raw)
        shown.append(n)
    return {"blocks": blocks}, shown


def summary(program: Program) -> str:
    """One line for the audit trail and the clients' list."""
    parts = []
    for b in program.blocks:
        line = f"{b.exercise} {b.sets}x{b.reps}, rest {b.rest_s} s"
        if b.tempo:
            line += f", tempo {b.tempo.down_s:g}/{b.tempo.hold_s:g}/{b.tempo.up_s:g} s"
        if b.max_hip_deg is not None:
            line += f", hip flexion to {b.max_hip_deg:g}°"
        if b.faults:
            line += ", " + ", ".join(f"{f} {w}" for f, w in b.faults.items())
        parts.append(line)
    return "; ".join(parts)


# The store ------------------------------------------------------------------

def get(conn: sqlite3.Connection, code: str) -> dict | None:
    """The client's program with who set it and when, or None."""
    row = conn.execute("SELECT program, updated_at, updated_by FROM programs "
                       "WHERE client_code = ?", (code,)).fetchone()
    if row is None:
        return None
    return {"program": parse(json.loads(row[0])), "updated_at": row[1], "updated_by": row[2]}


def save(conn: sqlite3.Connection, code: str, program: Program, by: str | None, *,
         at: float | None = None) -> None:
    """Set (or replace) the client's program. `code` as queries.client_code gives it."""
    with conn:
        conn.execute("INSERT INTO programs (client_code, program, updated_at, updated_by) "
                     "VALUES (?, ?, ?, ?) ON CONFLICT (client_code) DO UPDATE SET "
                     "program = excluded.program, updated_at = excluded.updated_at, "
                     "updated_by = excluded.updated_by",
                     (code, json.dumps(to_dict(program)), time.time() if at is None else at,
                      by))


def delete(conn: sqlite3.Connection, code: str) -> bool:
    with conn:
        return conn.execute("DELETE FROM programs WHERE client_code = ?", (code,)).rowcount == 1


def listing(conn: sqlite3.Connection) -> list[dict]:
    """Every client with a program: code, blocks, when and by whom, by code."""
    return [{"code": c, "blocks": len(json.loads(p)["blocks"]), "updated_at": at,
             "updated_by": by} for c, p, at, by in conn.execute(
                 "SELECT client_code, program, updated_at, updated_by FROM programs "
                 "ORDER BY client_code")]


def fields_markdown() -> str:
    """docs/staff.md's table of a block's fields, made from the schema
    (tests/test_programs.py keeps the page equal to it)."""
    rows = ["| field | allowed | default | what |", "|---|---|---|---|"]
    for f in fields(Block):
        m = f.metadata
        if f.name == "tempo":
            allowed = "null, or " + "; ".join(
                f"`{g.name}` {g.metadata['check'][1].removeprefix('must be ')}"
                for g in fields(Tempo))
        elif f.name == "faults":
            allowed = "fault id: " + " | ".join(f"`{w}`" for w in SENSITIVITY)
        else:
            allowed = m["check"][1].removeprefix("must be ")
            allowed += " (null: no limit)" if m["optional"] else ""
        default = "required" if m["required"] else \
            f"`{json.dumps({} if f.name == 'faults' else f.default)}`"
        cells = (f"`{f.name}`", allowed, default, m["label"])
        rows.append("| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |")
    return "\n".join(rows)


# Tempo kept: the median descent within this share of the prescribed one (or
# TEMPO_KEPT_S, whichever is wider). A clinician's tolerance, chosen here, not a
# measured cut-off: a metronome count is followed to about half a second.
TEMPO_KEPT_FRAC = 0.2
TEMPO_KEPT_S = 0.5


def block_params(block: Block) -> dict:
    """What a block changes in the coach (device/core/state.CoachParams' names)."""
    return {"exercise": block.exercise,
            "tempo": None if block.tempo is None else (
                block.tempo.down_s, block.tempo.hold_s, block.tempo.up_s),
            "max_hip_deg": block.max_hip_deg,
            "fault_factors": tuple((f, SENSITIVITY[w]) for f, w in block.faults.items())}


def past_range(rep: dict, limit: float | None) -> bool:
    """The rep went deeper than the limit: as the coach said it, or (a rep stored
    without the coach's word) by its hip flexion."""
    if limit is None:
        return False
    if rep.get("past_range") is not None:
        return bool(rep["past_range"])
    return rep.get("hip_deg") is not None and rep["hip_deg"] > limit


def adherence(program: Program, sets: list[list[dict]]) -> dict:
    """Prescribed against done, per block: `sets` are the sets done under the
    program, in order, each its reps (the coach's rep figures); block 1 takes the
    first `sets` of them, and so on, as the mirror moved from block to block
    (device/service/programs.ProgramRunner). Sets past the last block are `extra`.

    Per block: the prescription (exercise, sets, reps, tempo down, range limit),
    and done: reps per set, sets at their target, the median descent and whether
    it kept the tempo (TEMPO_KEPT_FRAC), reps past the range limit, reps with a
    fault, and the main fault."""
    out, i = [], 0
    for b in program.blocks:
        done = sets[i:i + b.sets]
        i += len(done)
        reps = [r for s in done for r in s]
        downs = sorted(r["down_s"] for r in reps if r.get("down_s") is not None)
        median = None if not downs else round(
            (downs[(len(downs) - 1) // 2] + downs[len(downs) // 2]) / 2, 2)
        target = None if b.tempo is None else b.tempo.down_s
        kept = None if target is None or median is None else \
            abs(median - target) <= max(TEMPO_KEPT_S, TEMPO_KEPT_FRAC * target)
        faults = [f for r in reps for f in r.get("faults") or ()]
        out.append({
            "exercise": b.exercise, "sets": b.sets, "reps": b.reps,
            "tempo_down_s": target, "max_hip_deg": b.max_hip_deg,
            "reps_per_set": [len(s) for s in done],
            "sets_full": sum(1 for s in done if len(s) >= b.reps),
            "reps_done": len(reps), "reps_prescribed": b.sets * b.reps,
            "down_s_median": median, "tempo_kept": kept,
            "past_range": sum(1 for r in reps if past_range(r, b.max_hip_deg)),
            "faulty": sum(1 for r in reps if r.get("faults")),
            "main_fault": max(FAULTS, key=faults.count) if faults else None,
        })
    prescribed = sum(b["reps_prescribed"] for b in out)
    done = sum(min(b["reps_done"], b["reps_prescribed"]) for b in out)
    return {"blocks": out, "extra_sets": max(0, len(sets) - i),
            "complete": all(b["sets_full"] >= b["sets"] for b in out),
            # Reps done of reps prescribed, each block's extra reps not counted.
            "adherence_pct": round(100 * done / prescribed) if prescribed else None}


def session_adherence(session: dict) -> dict | None:
    """`adherence` of a stored session (queries.session's) against the program it
    followed, or None if it followed none: its sets from the program's first on."""
    followed = session.get("program")
    if not followed:
        return None
    program = parse(followed["program"])
    first = followed.get("first_set", 1)
    numbers = sorted({r["set_number"] for r in session["reps_detail"]
                      if r["set_number"] is not None and r["set_number"] >= first})
    sets = [[r for r in session["reps_detail"] if r["set_number"] == n] for n in numbers]
    return {**adherence(program, sets), "program": program}


def adherence_trend(conn: sqlite3.Connection, code: str) -> dict:
    """A client's sessions, oldest first, for the client's page: each one's
    adherence (None: it followed no program), and the share of its reps with
    the client's main fault over all their sessions (`main_fault`)."""
    rows = []
    for t in queries.trend(conn, code):
        s = queries.session(conn, t["session_id"])
        a = session_adherence(s)
        rows.append({"session_id": s["id"], "started_at": s["started_at"],
                     "adherence_pct": None if a is None else a["adherence_pct"],
                     "faults": [r["faults"] for r in s["reps_detail"]]})
    every = [f for r in rows for fs in r["faults"] for f in fs]
    main = max(FAULTS, key=every.count) if every else None
    for r in rows:
        faults = r.pop("faults")
        r["main_fault_pct"] = None if main is None or not faults else round(
            100 * sum(1 for fs in faults if main in fs) / len(faults))
    return {"main_fault": main, "sessions": rows}
