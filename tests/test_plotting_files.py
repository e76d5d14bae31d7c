"""Figure files are the same bytes on every run (no date stamp, fixed SVG element ids)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from alrnn_neuro.plotting.regimes import save_figure as save_regime_figure
from alrnn_neuro.plotting.rsa import save_figure as save_rsa_figure


def _figure():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.imshow(np.arange(12.0).reshape(3, 4))
    ax.plot([0, 1, 2], [1, 0, 2], label="line")
    ax.set_title("a figure")
    ax.legend()
    return fig


@pytest.mark.parametrize("writer", ["regimes", "rsa"])
def test_the_same_figure_saved_twice_gives_the_same_bytes(tmp_path, writer):
    files = []
    for run in ("first", "second"):
        folder = tmp_path / run
        folder.mkdir()
        fig = _figure()
        if writer == "regimes":
            files.append(save_regime_figure(fig, folder, "fig"))
        else:
            files.append(save_rsa_figure(fig, folder / "fig"))
        plt.close(fig)
    for a, b in zip(*files, strict=True):
        assert a.name == b.name and a.read_bytes() == b.read_bytes(), a.name
    svg = files[0][1]
    assert svg.suffix == ".svg" and "<dc:date>" not in svg.read_text()
