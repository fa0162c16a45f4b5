"""A client's code: its shape, how it is stored, and how a printed card carries it.

A client code is a pseudonym (the clinic keeps the key to it), never a name:
letters, digits, '-' and '_', up to 24; not case-sensitive (kept upper-case).
The store (device/store/queries.py), the console and the card reader at the
glass (device/vision/cards.py) all read it here.

A client's card (printed from the console) is a QR code of ``CARD_PREFIX`` and
the code: the prefix keeps any other QR code in view (a poster, a phone) from
starting anybody's program.
"""

from __future__ import annotations

import re

import segno

CLIENT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,23}$")
CARD_PREFIX = "HINGE-MIRROR:"


def client_code(code: str) -> str:
    """A client code as it is stored: trimmed, upper-case (k-017 is K-017)."""
    return code.strip().upper()


def card_text(code: str) -> str:
    """What a client's card's QR code says."""
    return CARD_PREFIX + client_code(code)


def card_qr(code: str) -> segno.QRCode:
    """The QR code printed on a client's card. Version 2 (25 modules) where the
    text fits: it is read from 80 pixels wide on a 640x480 frame, where versions
    1 and 3 need more (tests/test_cards.py); a long code with '_' takes the
    next version up."""
    try:
        return segno.make(card_text(code), error="m", micro=False, version=2)
    except segno.DataOverflowError:
        return segno.make(card_text(code), error="m", micro=False)


def card_code(text: str) -> str | None:
    """The client code a card's text carries, or None if it is not a client's card."""
    if not text.startswith(CARD_PREFIX):
        return None
    code = text[len(CARD_PREFIX):]
    return client_code(code) if CLIENT_CODE.match(code) else None
