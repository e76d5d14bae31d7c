"""Every hostile input of the corpus: exit 2, one stderr line, no traceback, nothing left."""

from __future__ import annotations

import pytest

from tests.adversarial.builders import run_in_process, snapshot
from tests.adversarial.corpus import CASES

pytestmark = pytest.mark.adversarial


def test_the_corpus_is_large_and_names_are_unique():
    assert len(CASES) >= 60
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input_is_refused_in_one_line(case, shared, tmp_path, capsys):
    folder = tmp_path / "case"
    folder.mkdir()
    try:
        argv = case.build(folder, shared)
    except PermissionError as error:  # e.g. mknod without CAP_MKNOD
        pytest.skip(f"cannot build this input here: {error}")
    before = snapshot(folder)
    code = run_in_process(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert case.message in lines[0], lines[0]
    assert snapshot(folder) == before  # nothing written, nothing changed, nothing replaced
    assert not (folder / "PWNED").exists() and not (folder.parent / "PWNED").exists()
