"""Re-execute the tutorial notebooks and save them with their outputs (the committed outputs).

Each notebook runs top to bottom in a fresh kernel of *this* Python interpreter (a kernel spec
written to a temporary folder, not the user's Jupyter kernels), with a fresh empty working
directory, so what it writes (``runs/...``) stays out of the repository and the paths it prints
are short. ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` default to 1 in the kernel. The saved
notebook keeps its standard ``python3`` kernelspec and no execution timestamps, so a re-run
changes only what the notebook computes. Run from the repository root::

    python scripts/execute_notebooks.py                       # all of examples/notebooks
    python scripts/execute_notebooks.py examples/notebooks/03_how_much_nonlinearity.ipynb
    python scripts/execute_notebooks.py --check               # execute, do not save

``tests/test_notebooks.py`` executes them the same way (:func:`execute_notebook`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "examples" / "notebooks"
#: name of the temporary kernel spec (never installed; it lives in a temporary folder)
KERNEL_NAME = "alrnn-neuro-python"
#: the kernelspec the saved notebooks declare (what Jupyter and GitHub expect)
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
#: environment defaults of the kernel (the notebooks are sized for one thread per process)
KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def this_interpreter_kernel(folder: Path):
    """A kernel manager that starts an IPython kernel of ``sys.executable``.

    Parameters
    ----------
    folder : Path
        Where the kernel spec is written (``folder/KERNEL_NAME/kernel.json``).

    Returns
    -------
    jupyter_client.AsyncKernelManager
    """
    from ipykernel.kernelspec import write_kernel_spec
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    write_kernel_spec(folder / KERNEL_NAME, overrides={"display_name": "alrnn-neuro (this Python)"})
    specs = KernelSpecManager(kernel_dirs=[str(folder)], ensure_native_kernel=False)
    return AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def execute_notebook(
    path: str | os.PathLike, *, cwd: str | os.PathLike, timeout: int = 900
) -> nbformat.NotebookNode:
    """Run every cell of a notebook in a fresh kernel of this interpreter.

    Parameters
    ----------
    path : str or PathLike
        The ``.ipynb`` file (read, not written).
    cwd : str or PathLike
        Working directory of the kernel (what the notebook writes lands here).
    timeout : int
        Longest a single cell may run, in seconds.

    Returns
    -------
    nbformat.NotebookNode
        The executed notebook (outputs filled in, kernelspec reset to ``python3``).

    Raises
    ------
    nbclient.exceptions.CellExecutionError
        When a cell raises; the message holds the cell's traceback.
    """
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    env = {**KERNEL_ENV, **os.environ}
    with tempfile.TemporaryDirectory(prefix="alrnn-kernel-") as folder:
        client = NotebookClient(
            notebook,
            km=this_interpreter_kernel(Path(folder)),
            timeout=timeout,
            record_timing=False,
            resources={"metadata": {"path": str(cwd)}},
        )
        client.execute(env=env)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    return notebook


def main(argv: list[str] | None = None) -> int:
    """Execute the notebooks given (default: all in examples/notebooks); save unless --check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: examples/notebooks")
    parser.add_argument("--check", action="store_true", help="execute only; do not save")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="alrnn-notebook-") as workdir:
            notebook = execute_notebook(path, cwd=workdir, timeout=args.timeout)
        nbformat.validate(notebook)
        if not args.check:
            nbformat.write(notebook, path)
        seconds = time.perf_counter() - started
        print(f"{path}: executed in {seconds:.0f} s{'' if args.check else ', saved'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
