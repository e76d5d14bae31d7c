"""Usage errors through the installed ``alrnn-neuro`` entry point: one line, exit 2, no traceback.

Typer >= 0.26 raises the exceptions of its own bundled Click, older Typer those of the
``click`` package; ``cli.app.main`` must turn both into one line. This runs the real console
script (as a user's shell would), so it also catches what only happens outside pytest.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from alrnn_neuro import __version__
from tests.adversarial.processes import entry_point


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [entry_point(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


USAGE_ERRORS = {
    "unknown command": (["fitt"], "Did you mean 'fit'?"),
    "unknown option": (["fit", "data.h5", "--epoch", "5"], "--epochs"),
    "unknown option before the argument": (["fit", "--no-such-option"], "No such option"),
    "bad integer": (["fit", "data.h5", "--epochs", "five"], "'--epochs'"),
    "bad float": (["fit", "data.h5", "--lr", "fast"], "'--lr'"),
    "missing argument": (["fit"], "Missing argument 'dataset'"),
    "missing option": (["rsa", "run"], "Missing option '--conditions'"),
    "unknown subcommand": (["simulate", "stimulus_selection"], "No such command"),
    "option without a value": (["fit", "data.h5", "--out"], "requires an argument"),
    "value below the minimum": (["analyze", "run", "--n-null", "-1"], "'--n-null'"),
    "seed of 2**64": (
        ["simulate", "task", "copy", "--out", "x.h5", "--seed", str(2**64)],
        "'--seed'",
    ),
    "unknown global option": (["--verbosity", "fit"], "No such option"),
    "extra argument": (["info", "a.h5", "b.h5"], "unexpected extra argument"),
}


@pytest.mark.parametrize("case", sorted(USAGE_ERRORS))
def test_usage_error_is_one_line_with_exit_code_2(case, tmp_path):
    args, expected = USAGE_ERRORS[case]
    done = run(args, tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert lines[0].startswith("error: ") and expected.lower() in lines[0].lower(), lines[0]
    assert not any(tmp_path.iterdir())  # a usage error writes nothing


def test_version_prints_the_version_and_exits_0(tmp_path):
    done = run(["--version"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"alrnn-neuro {__version__}"
    assert done.stderr == ""


def test_help_still_works(tmp_path):
    done = run(["fit", "--help"], tmp_path)
    assert done.returncode == 0 and "--epochs" in done.stdout


def _start_without(module: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """The console script's ``main`` in a fresh Python where importing ``module`` fails as
    if it were not installed (``sys.modules[module] = None``)."""
    code = (
        "import sys; "
        f"sys.modules[{module!r}] = None; "
        f"sys.argv = ['alrnn-neuro', *{args!r}]; "
        "from alrnn_neuro.cli import main; main()"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120
    )


DEMO = Path(__file__).resolve().parents[1] / "datasets" / "stimulus_selection_demo.h5"
MISSING = {  # dependency made unimportable: the command that first needs it
    "typer": ["fit", "--no-such-option"],  # at start-up, before any option is read
    "torch": ["fit", str(DEMO), "--out", "run"],  # when fit imports the training code
}


@pytest.mark.parametrize("module", sorted(MISSING))
def test_missing_dependency_is_one_line_with_exit_code_2(module, tmp_path):
    done = _start_without(module, MISSING[module], tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("error: ") and f"'{module}' is not installed" in lines[0]
    assert sys.executable in lines[0] and "pip install" in lines[0]
    assert not any(tmp_path.iterdir())


def test_missing_dependency_keeps_its_traceback_with_debug_or_inside_the_toolbox(tmp_path):
    debug = _start_without("typer", ["--debug", "fit"], tmp_path)
    assert debug.returncode == 1 and "ModuleNotFoundError" in debug.stderr
    broken = _start_without("alrnn_neuro.cli.app", ["fit", "--no-such-option"], tmp_path)
    assert broken.returncode == 1 and "Traceback" in broken.stderr  # a broken install, not ours
