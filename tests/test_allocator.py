"""keep_freed_memory: a fit's per-step tensors stop faulting in fresh pages (glibc only).

The setting is process-wide and cannot be undone, so every check runs in a subprocess.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from alrnn_neuro.training.allocator import ENV_SWITCH, keep_freed_memory

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")

#: allocate and free a few megabytes of tensors per "step", as a training step does, and
#: count the minor page faults of the later steps
PROBE = """
import json, resource, sys, torch
from alrnn_neuro.training.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
def step():
    parts = [torch.ones(3 << 18) for _ in range(8)]  # 8 x 3 MiB, written (faulted in)
    return sum(float(p[-1]) for p in parts)
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"applied": applied, "faults_per_step": faults / 20}))
"""


def _probe(mode: str, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    environ.pop(ENV_SWITCH, None)
    environ.update(env)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], env=environ, capture_output=True, text=True,
        check=True, timeout=120,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


#: glibc's initial thresholds, pinned: the control where freed blocks go back to the kernel
#: (the dynamic defaults adapt, more or less, depending on what was allocated before)
HAND_BACK = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}


@glibc
def test_keeping_freed_memory_stops_the_per_step_page_faults():
    control = _probe("default", **HAND_BACK)
    kept = _probe("keep")
    assert kept["applied"] is True
    # handed back, the 24 MiB are mapped afresh every step: ~6,000 faults of 4 KiB pages
    assert control["faults_per_step"] > 3000
    assert kept["faults_per_step"] < 0.01 * control["faults_per_step"]


@glibc
def test_the_environment_switch_turns_it_off():
    assert _probe("keep", **{ENV_SWITCH: "0"})["applied"] is False


@glibc
def test_glibcs_own_malloc_variables_are_respected():
    probe = _probe("keep", MALLOC_TRIM_THRESHOLD_="131072")
    assert probe["applied"] is False


def test_repeated_calls_give_the_first_answer():
    assert keep_freed_memory() is keep_freed_memory()
