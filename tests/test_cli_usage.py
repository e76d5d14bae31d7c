"""Usage errors through the installed ``alrnn-neuro`` entry point: one line, exit 2, no traceback.

Typer >= 0.26 raises the exceptions of its own bundled Click, older Typer those of the
``click`` package; ``cli.app.main`` must turn both into one line. This runs the real console
script (as a user's shell would), so it also catches what only happens outside pytest.
"""

from __future__ import annotations

import subprocess
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
