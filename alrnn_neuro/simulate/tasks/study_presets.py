"""The AL-RNN study's training settings per task, as data (one place, sources cited).

Read from the launchers and training code of the study's public repository
fnnrth/Linear_Nonlinear_Memory (Brenner & Koppe, TMLR 2026, arXiv 2506.07919); every preset
names the files and commits it was read from. Where two stored versions of a launcher
differ, the later one is used and the difference noted. The task definitions themselves
are :data:`~alrnn_neuro.simulate.tasks.STUDY_TASKS` (``variant="study"``).

Model conventions shared by all of the study's task models (they differ from the toolbox's
:class:`~alrnn_neuro.models.alrnn.ALRNN` in places):

- ``A`` sits on the P rectified units only (``a_placement="pwl"``); a linear unit's
  self-coupling is ``W_ii``. Initialisation N(mean, sd^2) per :attr:`StudyPreset.a_init`.
- MAR (manifold-attractor regularisation) acts on the *first* ``mar_units`` units (the
  linear ones come first): ``tau * sum_i [(a_eff_i - 1)^2 + sum_{j != i} W_ij^2 + h_i^2]``
  with ``a_eff_i = W_ii`` on a linear unit and ``W_ii + A_i`` on a rectified one.
- Readout ``D z_t`` without bias; Adam without weight decay, schedule or clipping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

REPOSITORY = "fnnrth/Linear_Nonlinear_Memory"
UNIFORM_Z0 = "U(-1/sqrt(batch), 1/sqrt(batch)) per unit, drawn anew in every forward pass"


@dataclass(frozen=True)
class StudyPreset:
    """One task's training setting in the study (all numbers as in its code).

    Attributes
    ----------
    task : str
        Task name for :func:`~alrnn_neuro.simulate.tasks.make_task` (``variant="study"``).
    task_params : mapping
        The study's task parameters (the study generators' defaults).
    latent_dim : int
        M.
    pwl_grid : tuple of int
        The P values the launcher sweeps.
    mar_tau : float
        MAR strength tau.
    mar_units : int
        Number of regularised units (the first ``mar_units``).
    learning_rate, batch_size, epochs : float, int, int
        Adam learning rate, mini-batch size, epochs.
    n_train, n_test, n_val : int
        Trials per set (for ``multitask`` the total over tasks, each trial's task drawn
        uniformly).
    fresh_trials_each_epoch : bool
        Training (and test) trials are drawn anew every epoch.
    n_seeds : int or None
        Runs per setting in the launcher (None: not set there).
    model_selection : str
        Which parameters are reported.
    initial_state : str
        How ``z0`` is set.
    a_placement : str
        ``"pwl"``: A on the rectified units only.
    a_init : (float, float)
        Mean and s.d. of A's normal initialisation.
    w_init_sd, h_init_sd, c_init_sd, readout_init_sd : float
        S.d. of the zero-mean normal initialisation of W, h, C and the readout D.
    loss : str
        The training loss.
    sources : tuple of str
        ``path@commit`` in :data:`REPOSITORY` the numbers come from.
    notes : str
        Differences between stored versions and other caveats.
    """

    task: str
    task_params: Mapping[str, object]
    latent_dim: int
    pwl_grid: tuple[int, ...]
    mar_tau: float
    mar_units: int
    learning_rate: float
    batch_size: int
    epochs: int
    n_train: int
    n_test: int
    loss: str
    model_selection: str
    initial_state: str
    sources: tuple[str, ...]
    n_val: int = 0
    fresh_trials_each_epoch: bool = False
    n_seeds: int | None = None
    a_placement: str = "pwl"
    a_init: tuple[float, float] = (0.0, 0.01)
    w_init_sd: float = 0.01
    h_init_sd: float = 0.01
    c_init_sd: float = 0.1
    readout_init_sd: float = 0.1
    notes: str = ""
    repository: str = field(default=REPOSITORY)

    def __post_init__(self) -> None:
        object.__setattr__(self, "task_params", MappingProxyType(dict(self.task_params)))


_C = "2568d9f6e6229379d88645fb7675be39268ad7d4"
_COPY = "e873999de618ff61869ae379ea6c7b788fa645eb"
_VAR = "8511eeb5072967c6cb3a2e79d2f8d5ab9cd9c592"
_MT_DATA = "93bfde70192f76dfe7f6e300c31b8e1e7d93d0db"
_MT_LAUNCH = "50d416a444080613ffa32db0b3941be64cd9a877"
_MT_TRAIN = "379463c9905e321244e177f9a1cbd0acf0e4ccc1"
_MT_MODEL = "2eb96411667f6f7ba310be7d8bb44a69c019ca48"

STUDY_PRESETS: Mapping[str, StudyPreset] = MappingProxyType(
    {
        "addition": StudyPreset(
            task="addition",
            task_params={"length": 100},
            latent_dim=50,
            pwl_grid=(0, 50),
            mar_tau=0.1,
            mar_units=25,
            learning_rate=1e-3,
            batch_size=128,
            epochs=2000,
            n_train=10_000,
            n_test=1_000,
            n_seeds=5,
            loss="MSE of the readout of the final state",
            model_selection="the last epoch's parameters",
            initial_state=UNIFORM_Z0,
            sources=(
                f"addition_problem/addition_launcher.py@{_C}",
                f"addition_problem/addition_task.py@{_C}",
                f"addition_problem/generate_data.py@{_C}",
                f"addition_problem/rnn_model.py@{_C}",
                f"MAR.py@{_C}",
            ),
            notes="the launcher sweeps 'Ls': [50], with [0] commented out next to it",
        ),
        "copy": StudyPreset(
            task="copy",
            task_params={"n_symbols": 5, "seq_len": 8, "delay": 100},
            latent_dim=50,
            pwl_grid=(0, 1, 3, 5, 10, 20, 50),
            mar_tau=0.1,
            mar_units=25,
            learning_rate=1e-3,
            batch_size=64,
            epochs=8000,
            n_train=1_000,
            n_test=200,
            n_seeds=10,
            loss="cross-entropy over all 5 tokens on the last 8 (recall) steps",
            model_selection="the last epoch's parameters; whole-sequence accuracy on the test set",
            initial_state=UNIFORM_Z0,
            sources=(
                f"copy_problem/copy_launcher.py@{_COPY}",
                f"copy_problem/copy_task.py@{_COPY}",
                f"copy_problem/generate_data.py@{_C}",
                f"copy_problem/rnn_model.py@{_VAR}",
                f"MAR.py@{_C}",
            ),
            notes=(
                f"copy_task.py sets the MAR units (round(M / 2)), no time encoding and training "
                f"without early stopping; the earlier launcher (copy_launcher.py@{_C}) used "
                "2,000 training trials and kept the best test sequence accuracy with early "
                "stopping (patience 200 evaluations every 100 epochs, min. gain 0.1 percentage "
                "points); the stored rnn_model.py imports an ssm_models module that is not in "
                "the repository"
            ),
        ),
        "variable_delay_copy": StudyPreset(
            task="variable_delay_copy",
            task_params={"n_symbols": 5, "seq_len": 5, "fixed_steps": 50, "variable_steps": 50},
            latent_dim=50,
            pwl_grid=(0, 1, 3, 5, 10, 25, 50),
            mar_tau=0.1,
            mar_units=25,
            learning_rate=1e-3,
            batch_size=64,
            epochs=8000,
            n_train=1_000,
            n_test=300,
            n_seeds=5,
            loss="cross-entropy on the 5 steps after the cue, averaged per trial",
            model_selection="the last epoch's parameters; whole-sequence accuracy on the test set",
            initial_state=UNIFORM_Z0,
            sources=(
                f"copy_problem/variable_delay_launcher.py@{_VAR}",
                f"copy_problem/variable_delay_task.py@{_VAR}",
                f"copy_problem/rnn_model.py@{_VAR}",
                f"MAR.py@{_C}",
            ),
            notes=(
                "the trial generator (generate_variable_delay_task_dataset_discrete) is not "
                "in the public repository; the study variant follows its training and "
                "evaluation code (see study_variable_delay_copy_task)"
            ),
        ),
        "contextual_integration": StudyPreset(
            task="contextual_integration",
            task_params={"length": 100, "noise_std": 0.01, "invert_prob": 0.5},
            latent_dim=10,
            pwl_grid=(5,),
            mar_tau=0.1,
            mar_units=5,
            learning_rate=1e-3,
            batch_size=64,
            epochs=1000,
            n_train=1_000,
            n_val=200,
            n_test=200,
            loss="cross-entropy of the readout of the final state",
            model_selection="lowest validation loss (evaluated every 50 epochs)",
            initial_state="zeros",
            sources=(
                f"contextual_integration/memory_launcher.py@{_C}",
                f"contextual_integration/memory_task.py@{_C}",
                f"contextual_integration/load_data.py@{_C}",
                f"MAR.py@{_C}",
            ),
            notes="M, P and the MAR units are the launcher's command-line defaults",
        ),
        "multitask": StudyPreset(
            task="multitask",
            task_params={"durations": "hard"},
            latent_dim=64,
            pwl_grid=(0, 1, 2, 4, 8, 16, 32, 64),
            mar_tau=0.01,
            mar_units=32,
            learning_rate=1e-3,
            batch_size=64,
            epochs=300,
            n_train=5_000,
            n_test=1_000,
            fresh_trials_each_epoch=True,
            n_seeds=5,
            a_init=(0.9, 0.1),
            w_init_sd=0.0125,  # 0.1 / sqrt(M) at M = 64
            h_init_sd=0.0,
            loss=(
                "MSE(fixation) + MSE(cos, sin) of the readout of the final state, i.e. "
                "output weights (1, 1/2, 1/2) relative to a sum of squares; trials padded "
                "with zero input to the longest in the batch before that state is read"
            ),
            model_selection="the last epoch's parameters; final angle accuracy per task",
            initial_state="zeros",
            sources=(
                f"multi_task_training/multitask_launcher.py@{_MT_LAUNCH}",
                f"multi_task_training/train_models.py@{_MT_TRAIN}",
                f"multi_task_training/Dataset.py@{_MT_LAUNCH}",
                f"multi_task_training/rnn_model.py@{_MT_MODEL}",
            ),
            notes=(
                "W's s.d. is 0.1 / sqrt(M); every trial's task is drawn uniformly (make_"
                "multitask balances tasks instead); the inputs are those of Dataset.py@"
                f"{_MT_LAUNCH[:7]} (7 base channels + 11 task channels = 18); Dataset.py@"
                f"{_MT_DATA[:7]} pads the base inputs to 9 channels (two always-zero "
                "channels, 20 inputs)"
            ),
        ),
    }
)
"""Task name -> the study's training setting (keys as in :func:`make_task`)."""
