"""``--help`` lists every choice a flag accepts, from the same constants the code checks."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from alrnn_neuro.analysis.rsa.compare import COMPARISONS
from alrnn_neuro.analysis.rsa.rdm import DISTANCES
from alrnn_neuro.cli.app import app
from alrnn_neuro.cli.rsa import COMPARE_CHOICES, DISTANCE_CHOICES
from alrnn_neuro.data.roitman_files import EVENTS
from alrnn_neuro.simulate.tasks import MULTITASK, TASKS, VARIANTS


def _help(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.replace("│", " ").split())  # undo the wrapping in panels


def test_rsa_choices_match_what_run_rsa_accepts():
    assert set(DISTANCE_CHOICES) == set(DISTANCES)
    assert set(COMPARE_CHOICES) - {"tau-a"} == set(COMPARISONS) - {"kendall_tau_a"}
    text = _help("rsa")
    for choice in (*DISTANCES, *COMPARE_CHOICES, "epoch (task", "region (the AL-RNN", "time (each"):
        assert choice in text, choice


@pytest.mark.parametrize("command", [("simulate", "task"), ("sweep",)])
def test_task_names_are_listed(command):
    text = _help(*command)
    for name in (*TASKS, MULTITASK):
        assert name in text, name
    if command == ("simulate", "task"):
        assert " | ".join(VARIANTS) in text


def test_roitman_alignment_events_are_listed():
    text = _help("convert", "roitman-fd")
    assert " | ".join(EVENTS) in text


def test_fit_help_epilog_explains_toml_and_progress():
    text = _help("fit")
    assert "TOML file given with --config" in text and "plain line every 10 s" in text


def test_the_cli_starts_without_importing_the_lfp_toolkits():
    """neurodsp and scipy.signal (1.7 s of start-up) load only when LFP is processed."""
    probe = (
        "import sys, alrnn_neuro.cli.app; "
        "print(sorted(m for m in ('neurodsp', 'scipy.signal') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def test_select_and_analyze_help_show_the_library_defaults():
    """Defaults of options left unset (None on the command line) are stated in the help text,
    in parentheses: square brackets are Rich markup and vanished (``Level of every test .``)."""
    from alrnn_neuro.sweep import selection

    text = _help("select")
    for flag, value in {
        "--alpha": selection.DEFAULT_ALPHA,
        "--margin": selection.DEFAULT_MARGIN,
        "--min-effect": selection.DEFAULT_MIN_EFFECT,
        "--n-boot": selection.DEFAULT_N_BOOT,
        "--confidence": selection.DEFAULT_CONFIDENCE,
    }.items():
        option = text[text.index(flag) :]
        assert f"(default: {value:g})" in option[: option.index(" --", 2)], flag
    assert " ." not in text
    analyze = _help("analyze")
    assert "(1: fixed points only) (default: 3)." in analyze
