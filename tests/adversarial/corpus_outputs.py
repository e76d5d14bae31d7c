"""The corpus's hostile outputs and damaged run directories (see :mod:`.corpus`): ``--out``
paths that are devices, links, files or earlier results, and run directories with mixed,
truncated or malicious files. Each is refused with one line and exit code 2.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.adversarial.builders import (
    Build,
    Case,
    Shared,
    char_device,
    config_without,
    dangling_symlink,
    events_folder,
    existing_file,
    fifo,
    from_other_run,
    malicious_model,
    run_copy,
    symlink_to_file,
    truncate,
    under_a_file,
    unix_socket,
    write,
)


def _simulate_to(make: Callable[[Path], Path], *extra: str) -> Build:
    return lambda folder, shared: [
        "simulate",
        "task",
        "copy",
        "--n-trials",
        "4",
        "--out",
        str(make(folder)),
        *extra,
    ]


def _analyze(damage: Callable[[Path, Shared], None]) -> Build:
    return lambda folder, shared: [
        "analyze",
        str(run_copy(folder, shared, damage)),
        "--n-null",
        "2",
        "--no-figures",
    ]


def _rsa(damage: Callable[[Path, Shared], None]) -> Build:
    return lambda folder, shared: [
        "rsa",
        str(run_copy(folder, shared, damage)),
        "--conditions",
        "rule",
        "--dataset",
        str(shared.dataset),
        "--n-perm",
        "2",
        "--n-boot",
        "0",
    ]


def _noop(run: Path, shared: Shared) -> None:
    return None


OUTPUTS = [
    Case("--out a character device", _simulate_to(char_device), "character device"),
    Case("--out a fifo", _simulate_to(fifo), "fifo"),
    Case("--out a socket", _simulate_to(unix_socket), "socket"),
    Case("--out a symlink to a file", _simulate_to(symlink_to_file), "symbolic link"),
    Case("--out a dangling symlink", _simulate_to(dangling_symlink), "symbolic link"),
    Case("--out an existing file", _simulate_to(existing_file), "--overwrite"),
    Case("--out under a file", _simulate_to(under_a_file), "not a folder"),
    Case(
        "--out a name of 300 characters", _simulate_to(lambda f: f / ("x" * 300 + ".h5")), "shorter"
    ),
    Case("--out a folder", _simulate_to(lambda f: f), "is a folder"),
    Case(
        "convert --out an existing file",
        lambda f, s: ["convert", "events", str(events_folder(f)), "--out", str(existing_file(f))],
        "--overwrite",
    ),
    Case(
        "report --out an existing file",
        lambda f, s: ["report", str(s.run_a), "--out", str(existing_file(f, "r.html"))],
        "--overwrite",
    ),
    Case(
        "report --out a character device",
        lambda f, s: ["report", str(s.run_a), "--out", str(char_device(f))],
        "character device",
    ),
    Case(
        "fit --out a file",
        lambda f, s: ["fit", str(s.dataset), "--out", str(existing_file(f)), "--epochs", "1"],
        "is a file",
    ),
    Case(
        "fit --out a symlink",
        lambda f, s: ["fit", str(s.dataset), "--out", str(symlink_to_file(f)), "--epochs", "1"],
        "symbolic link",
    ),
    Case(
        "sweep --out a file",
        lambda f, s: ["sweep", str(s.dataset), "--out", str(existing_file(f)), "--epochs", "1"],
        "is a file",
    ),
    Case(
        "analyze --out a file",
        lambda f, s: ["analyze", str(run_copy(f, s, _noop)), "--out", str(existing_file(f))],
        "is a file",
    ),
    Case(
        "rsa --out a file",
        lambda f, s: [
            "rsa",
            str(run_copy(f, s, _noop)),
            "--conditions",
            "rule",
            "--out",
            str(existing_file(f)),
        ],
        "is a file",
    ),
    Case(
        "analyze over an earlier analysis",
        lambda f, s: [
            "analyze",
            str(run_copy(f, s, _noop)),
            "--out",
            str(_earlier(f, "regimes.nc")),
        ],
        "--overwrite",
    ),
    Case(
        "rsa over an earlier RSA",
        lambda f, s: [
            "rsa",
            str(run_copy(f, s, _noop)),
            "--conditions",
            "rule",
            "--out",
            str(_earlier(f, "rsa.json")),
        ],
        "--overwrite",
    ),
    Case(
        "markup in a path",
        lambda f, s: ["fit", str(f / "x[/]y[red]z.h5"), "--out", str(f / "o")],
        "x[/]y[red]z.h5",
    ),
]


def _earlier(folder: Path, name: str) -> Path:
    out = folder / "earlier"
    out.mkdir()
    (out / name).write_text("{}")
    return out


RUN_DIRS = [
    Case("config.json a list", _analyze(write("config.json", "[1, 2]")), "JSON list"),
    Case(
        "config.json nested 200000 deep",
        _analyze(write("config.json", "[" * 200_000 + "]" * 200_000)),
        "nested too deeply",
    ),
    Case("metrics.json binary", _analyze(write("metrics.json", bytes(range(256)))), "not valid"),
    Case("config.json without config", _analyze(config_without("config")), "config"),
    Case("model.pt truncated", _analyze(truncate("model.pt", 100)), "truncated"),
    Case("model.pt truncated late", _analyze(truncate("model.pt", 5000)), "truncated"),
    Case("model.pt less its last bytes", _analyze(truncate("model.pt", -10)), "truncated"),
    Case("model.pt malicious pickle", _analyze(malicious_model), "weights-only"),
    Case("model.pt of another run", _analyze(from_other_run("model.pt")), "mixes files"),
    Case("latents.nc of another run", _analyze(from_other_run("latents.nc")), "mixes files"),
    Case("latents.nc truncated", _analyze(truncate("latents.nc", 2000)), "latents.nc"),
    Case("rsa: metrics.json of another run", _rsa(from_other_run("metrics.json")), "mixes files"),
    Case(
        "report: split.json of another run",
        lambda f, s: [
            "report",
            str(run_copy(f, s, from_other_run("split.json"))),
            "--out",
            str(f / "r.html"),
        ],
        "mixes files",
    ),
    Case("analyze a file", lambda f, s: ["analyze", str(existing_file(f))], "not a directory"),
    Case(
        "fit --resume over a garbage checkpoint",
        lambda f, s: [
            "fit",
            str(s.dataset),
            "--out",
            str(_unfinished(f, s)),
            "--resume",
            "--latent-dim",
            "3",
            "--pwl-units",
            "1",
            "--batch-size",
            "16",
            "--epochs",
            "3",
        ],
        "checkpoint",
    ),
]


def _unfinished(folder: Path, shared: Shared) -> Path:
    """A copy of run_a made unfinished, with a checkpoint that is not a torch file."""

    def damage(run: Path, _: Shared) -> None:
        (run / "metrics.json").unlink()
        (run / "checkpoint.pt").write_bytes(b"not a checkpoint")

    return run_copy(folder, shared, damage)
