"""Python snippets of the docs that run as written, with the results their comments state.

``docs/dataset-format.md`` has its own tests (test_plain_h5, test_event_files); the others
here run in seconds. Snippets that need a cluster, run folders or hours of training are left
out on purpose (``docs/cluster.md``, ``docs/replication.md``, ``docs/selection.md``, the
second snippet of ``docs/tasks.md``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _snippet(name: str, index: int) -> str:
    return re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(), flags=re.S)[index]


def test_generators_snippet_names_the_generator_and_its_routing():
    scope: dict = {}
    exec(_snippet("generators.md", 0), scope)  # noqa: S102 - our own documentation
    ds = scope["ds"]
    assert (ds.attrs["generator"], ds.attrs["true_routing"]) == (
        "bilinear",
        "local:location,pitch:pitch",
    )


def test_tasks_snippet_scores_the_targets_perfectly_and_draws_fresh_trials():
    scope: dict = {}
    exec(_snippet("tasks.md", 0), scope)  # noqa: S102 - our own documentation
    assert scope["acc"] == 1.0  # "1.0 here": the targets themselves
    fresh, epoch = scope["fresh"], scope["epoch"]
    make_task, epoch_seed = scope["make_task"], scope["epoch_seed"]
    again = make_task("multitask", n_trials=455, seed=epoch_seed(0, epoch), variant="study")
    other = make_task("multitask", n_trials=455, seed=epoch_seed(0, epoch + 1), variant="study")
    np.testing.assert_array_equal(fresh.inputs.values, again.inputs.values)  # one stream
    assert not np.array_equal(fresh.inputs.values, other.inputs.values)  # new each epoch
