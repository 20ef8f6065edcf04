"""Numeric command-line options that are not settings are bounded as settings are
(runner.settings.option_type): 0, a negative, nan/inf and a huge value each get exit 2 and
one sentence naming the value and what is allowed, before any command runs."""

from __future__ import annotations

import re

import pytest

from runner.cli import main

# (argv before the option, option, sentence for a refused value, values refused)
OPTIONS = [
    (["backfill", "b.fbz", "--flow", "f", "--since", "2024-01-01"], "--chunk-size",
     "chunk size must be from 1 to 100000", ["0", "-5", "100001", "10000000000000"]),
    (["status"], "--runs", "number of runs must be from 1 to 1000",
     ["0", "-1", "1001", "99999999999999"]),
    (["map", "suggest", "--source", "stripe:charge", "--target", "salesforce:Account"],
     "--limit", "limit must be from 1 to 1000", ["0", "-3", "1001", "10000000000000"]),
    (["sandbox", "up"], "--stripe-port", "port must be from 0 to 65535",
     ["-1", "65536", "10000000000000"]),  # 0: any free port
    (["sandbox", "up"], "--salesforce-port", "port must be from 0 to 65535",
     ["-1", "70000"]),
]

CASES = [(argv, option, f"argument {option}: {sentence}, not {value}", value)
         for argv, option, sentence, values in OPTIONS for value in values]
# Whole numbers only: nan, inf and fractions are refused as text that is not an integer.
NOT_INTEGERS = [(argv, option, f"argument {option}: expected an integer for ", value)
                for argv, option, _sentence, _values in OPTIONS
                for value in ("nan", "inf", "1.5", "x")]


@pytest.mark.parametrize(("argv", "option", "words", "value"), CASES + NOT_INTEGERS)
def test_out_of_range_options_are_refused_in_one_sentence(capsys, argv, option, words,
                                                          value) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*argv, f"{option}={value}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert words in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "error:" in line]) == 1


def test_the_ends_of_a_range_are_accepted() -> None:
    from runner.commands.backfill import CHUNK_SIZES
    from runner.settings import option_type

    parse = option_type(int, CHUNK_SIZES, "chunk size")
    assert parse("1") == 1 and parse("100000") == 100_000


def test_a_float_option_refuses_nan_and_inf() -> None:
    """No command has a float option that is not a setting today; the same machinery
    refuses nan and inf the day one is added."""
    import argparse

    from runner.settings import Range, option_type

    parse = option_type(float, Range(0, 10, "seconds", low_open=True), "pause")
    assert parse("2.5") == 2.5
    for text, shown in (("nan", "nan"), ("inf", "inf"), ("-inf", "-inf"), ("0", "0"),
                        ("-1", "-1"), ("1e300", "1e+300")):
        words = f"pause must be more than 0 and at most 10 seconds, not {shown}"
        with pytest.raises(argparse.ArgumentTypeError, match=f"^{re.escape(words)}$"):
            parse(text)
