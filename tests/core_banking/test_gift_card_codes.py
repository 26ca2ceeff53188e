from __future__ import annotations

import re

from core_banking.gift_cards import codes

CODE_FORMAT = re.compile(r"^([0-9A-HJKMNP-TV-Z]{4}-){4}[0-9A-HJKMNP-TV-Z]{4}$")


def test_codes_are_random_checked_and_forgiving() -> None:
    generated = {codes.generate() for _ in range(200)}
    assert len(generated) == 200
    for code in generated:
        assert CODE_FORMAT.match(code), code
        normalised = codes.normalise(code)
        assert normalised is not None and len(normalised) == 20
        # Lower case, spaces and O/I/L misreadings are accepted.
        assert codes.normalise(code.lower().replace("-", " ").replace("0", "o")) == normalised
    code = codes.generate().replace("-", "")
    for i in range(20):  # every single-character change is caught by the check character
        for ch in codes.ALPHABET:
            if ch != code[i]:
                assert codes.normalise(code[:i] + ch + code[i + 1 :]) is None
    swapped = next(
        code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        for i in range(19)
        if code[i] != code[i + 1]
    )
    assert codes.normalise(swapped) is None
    assert codes.normalise("too-short") is None
