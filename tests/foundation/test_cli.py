"""The ``rmf`` entry point: usage errors exit with click's code and message, not a trace."""

from __future__ import annotations

from rmf_spark.cli import main


def test_a_missing_option_is_a_usage_error_not_a_traceback(capsys):
    assert main(["statistics", "od", "--mno", "mno_a"]) == 2
    assert "Missing option '--start'" in capsys.readouterr().err


def test_an_unknown_command_is_a_usage_error(capsys):
    assert main(["statistics", "no-such-product"]) == 2
    assert "No such command" in capsys.readouterr().err
