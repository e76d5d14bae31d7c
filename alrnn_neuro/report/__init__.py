"""One self-contained HTML report of a reproduction, sweep, run, analysis or RSA folder.

:func:`write_report` renders whatever of the reproduce layout exists in a folder into
``report.html``: the claims of ``reproduce.json`` at the top, then performance / regions vs P
and vs training-set size with the minimal sufficient P (``sweep/results.nc``), one panel per
task sweep (``tasks/<task>/sweep``), region sharing across tasks (``multitask/multitask.nc``),
cost vs P (``cost/cost.nc``), sparse P against fully nonlinear networks by training-set size
(``baselines/baselines.nc``), the fitted model's metrics (``model/``), regimes vs epochs and
the analysis figures (``analysis/``), the primitives table, RSA by epoch with the noise ceiling
(``rsa/``), and the configuration and versions at the bottom. Absent inputs are listed in one
note each. Figures are embedded as base64 PNG and CSS is inline: the file works offline, with
no JavaScript.

Example::

    from alrnn_neuro.report import write_report
    write_report("repro/")          # -> repro/report.html

==========================  ==============================================================
module                      content
==========================  ==============================================================
``discover``                locate the inputs (:func:`discover`)
``html``                    escaping, tables, embedded images, the page template
``sweep_sections``          sweep and per-task sweep sections
``multitask_section``       multi-task region sharing section
``cost_section``            cost of nonlinearity vs P (operations, regions, measured time)
``baseline_section``        sparse P vs P = M, GRU, LSTM by training-set size (low data)
``analysis_sections``       regimes, primitives (+ cycles) and RSA sections
``meta_sections``           claims, fitted run, configuration and versions
``build``                   :func:`build_report`, :func:`write_report`
==========================  ==============================================================
"""

from alrnn_neuro.report.build import REPORT_FILE as REPORT_FILE
from alrnn_neuro.report.build import Report as Report
from alrnn_neuro.report.build import build_report as build_report
from alrnn_neuro.report.build import save_report as save_report
from alrnn_neuro.report.build import write_report as write_report
from alrnn_neuro.report.discover import discover as discover

__all__ = ["REPORT_FILE", "Report", "build_report", "discover", "save_report", "write_report"]
