"""``ALRNNParams``: the parameters of one AL-RNN as one documented, immutable record.

The model (M latents, K inputs, P piecewise-linear units, the last P latents)::

    z_t    = A * z_{t-1} + W phi(z_{t-1}) + C s_t + h
    phi(z) = (z_1, ..., z_{M-P}, max(0, z_{M-P+1}), ..., max(0, z_M))

Each sign pattern of the P rectified units is one linear region, named by its *bitcode*: the
first rectified unit (latent M-P) is the most significant bit, the last latent the least
significant, so ``code = sum_j 1{z_{M-P+j} > 0} 2^(P-1-j)`` lies in ``[0, 2^P)``. Inside
region d the map is affine, ``z_t = J_d z_{t-1} + C s_t + h`` with
``J_d = diag(A) + W D_d`` and ``D_d = diag(1, ..., 1, bits(d))``; ``J_d`` is also the
Jacobian there.

This module is the one place the bitcode, its bits and the region Jacobians are computed
(numpy, float64); the torch model (:class:`~alrnn_neuro.models.alrnn.ALRNN`), the simulator
and every analysis use it. It imports no torch, so analyses of saved runs stay light.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alrnn_neuro.errors import ConfigError, DataValidationError

#: largest P whose 2^P regions are enumerated (beyond it, use the regions actually visited)
MAX_ENUMERATED_PWL = 20
#: largest P whose regions have a code (int64 bitcodes); models may have more
MAX_PWL = 62
#: how a region's code and bit string read (written into the files that hold bitcodes)
BIT_ORDER = (
    "bitcode = sum_j [z_(M-P+j) > 0] * 2^(P-1-j): the first rectified latent (index M-P) is "
    "the most significant bit and the first character of the bit string"
)


def check_n_pwl(n_pwl: Any, n_latent: int) -> int:
    """``n_pwl`` as an int in ``[0, n_latent]``, or a :class:`ConfigError`.

    Any P up to M is a model; region codes exist only up to P = :data:`MAX_PWL`
    (:func:`has_region_codes`).

    Examples
    --------
    >>> check_n_pwl(2, 6), check_n_pwl(64, 64)
    (2, 64)
    """
    if isinstance(n_pwl, bool) or not isinstance(n_pwl, int | np.integer):
        raise ConfigError(f"n_pwl={n_pwl!r} must be an integer (the number P of ReLU units)")
    if not 0 <= int(n_pwl) <= n_latent:
        raise ConfigError(
            f"n_pwl={n_pwl} must lie in [0, M={n_latent}]; fix: 0 = linear RNN, "
            "M = every unit rectified"
        )
    return int(n_pwl)


def has_region_codes(n_pwl: int) -> bool:
    """Whether the 2^P regions of a model with ``n_pwl`` rectified units have int64 codes.

    Beyond P = :data:`MAX_PWL` (e.g. the study's P = M = 64 networks) a fit has no
    ``bitcode``: its regions are neither labelled nor counted, everything else works.

    Examples
    --------
    >>> has_region_codes(62), has_region_codes(64)
    (True, False)
    """
    return int(n_pwl) <= MAX_PWL


def bitcode(z: np.ndarray, n_pwl: int) -> np.ndarray:
    """Region code of each state: the sign pattern of its last ``n_pwl`` entries.

    Parameters
    ----------
    z : ndarray, shape (..., latent)
        Latent states.
    n_pwl : int
        Number P of rectified units (the last P latents).

    Returns
    -------
    ndarray of int64, shape (...)
        ``sum_j 1{z_{M-P+j} > 0} 2^(P-1-j)`` (first rectified unit = most significant bit);
        -1 where any entry of the state is NaN (padded steps).

    Examples
    --------
    >>> bitcode(np.array([[-1.0, 2.0, -3.0], [0.0, 1.0, 1.0], [np.nan, 1.0, 1.0]]), 2)
    array([ 2,  3, -1])
    """
    z = np.asarray(z, dtype=np.float64)
    n_pwl = check_n_pwl(n_pwl, z.shape[-1])
    if not has_region_codes(n_pwl):
        raise ConfigError(
            f"n_pwl={n_pwl}: region codes are int64 and hold at most {MAX_PWL} rectified units; "
            "fix: compare sign patterns of the last P latents directly (z[..., -P:] > 0)"
        )
    weights = np.left_shift(1, np.arange(n_pwl - 1, -1, -1, dtype=np.int64))
    codes = (z[..., z.shape[-1] - n_pwl :] > 0).astype(np.int64) @ weights
    codes = np.asarray(codes, dtype=np.int64)
    codes[np.isnan(z).any(-1)] = -1
    return codes


def code_bits(codes: np.ndarray, n_pwl: int) -> np.ndarray:
    """Unpack region codes into the on/off state of each rectified unit.

    Parameters
    ----------
    codes : ndarray of int, any shape
        Region codes in ``[0, 2**n_pwl)``.
    n_pwl : int
        Number P of rectified units.

    Returns
    -------
    ndarray of bool, shape ``codes.shape + (n_pwl,)``
        ``bits[..., j]`` is True where rectified unit j (0 = first, latent M-P) is positive.

    Examples
    --------
    >>> code_bits(np.array([1, 2]), 2).astype(int).tolist()
    [[0, 1], [1, 0]]
    """
    shifts = np.arange(n_pwl - 1, -1, -1, dtype=np.int64)
    return ((np.asarray(codes, dtype=np.int64)[..., None] >> shifts) & 1).astype(bool)


def region_labels(codes: np.ndarray, n_pwl: int) -> list[str]:
    """Bit-string label of each region code, e.g. ``"10"`` (first rectified unit first).

    Examples
    --------
    >>> region_labels(np.array([0, 2]), 2)
    ['00', '10']
    """
    return ["".join("1" if b else "0" for b in row) for row in code_bits(codes, n_pwl)]


@dataclass(frozen=True, eq=False)
class ALRNNParams:
    """Parameters of one AL-RNN (see the module docstring for the equations).

    Arrays are float64 copies, read-only. Build one from a trained model with
    :meth:`from_model`.

    Attributes
    ----------
    A : ndarray, shape (latent,)
        Diagonal of the linear self-connections.
    W : ndarray, shape (latent, latent2)
        Couplings applied to ``phi(z)``.
    C : ndarray, shape (latent, input)
        Input matrix (K = 0 columns for an input-free model).
    h : ndarray, shape (latent,)
        Bias.
    n_pwl : int
        Number P of rectified units: the last P latents.
    input_names : tuple of str
        Names of the K input channels (empty if unknown).

    Examples
    --------
    >>> p = ALRNNParams(A=[0.9, 0.5], W=[[0.0, 1.0], [0.0, 0.0]], C=np.zeros((2, 0)),
    ...                 h=[0.0, 0.0], n_pwl=1)
    >>> p.regions().tolist(), p.region_jacobians()[0].tolist()
    ([0, 1], [[0.9, 0.0], [0.0, 0.5]])
    """

    A: np.ndarray
    W: np.ndarray
    C: np.ndarray
    h: np.ndarray
    n_pwl: int
    input_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        A, W = _float_array(self.A, "A"), _float_array(self.W, "W")
        m = A.shape[0] if A.ndim == 1 else -1
        if A.ndim != 1 or W.shape != (m, m):
            raise ConfigError(
                f"A must have shape (M,) and W (M, M); got A {A.shape}, W {W.shape}. Fix: pass "
                "one model's parameters (an ensemble member, not the stacked ensemble)"
            )
        C = np.zeros((m, 0)) if self.C is None else _float_array(self.C, "C")
        h = np.zeros(m) if self.h is None else _float_array(self.h, "h")
        if C.ndim != 2 or C.shape[0] != m or h.shape != (m,):
            raise ConfigError(f"C must be (M={m}, K) and h (M,); got C {C.shape}, h {h.shape}")
        names = tuple(str(n) for n in self.input_names)
        if names and len(names) != C.shape[1]:
            raise ConfigError(
                f"input_names has {len(names)} entries but C has {C.shape[1]} input columns"
            )
        for name, value in (("A", A), ("W", W), ("C", C), ("h", h)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "n_pwl", check_n_pwl(self.n_pwl, m))
        object.__setattr__(self, "input_names", names)

    # ------------------------------------------------------------------ sizes
    @property
    def latent_dim(self) -> int:
        """Number of latents M."""
        return int(self.A.shape[0])

    @property
    def input_dim(self) -> int:
        """Number of input channels K."""
        return int(self.C.shape[1])

    @property
    def n_regions(self) -> int:
        """Number of linear regions, 2^P."""
        return 2**self.n_pwl

    # ------------------------------------------------------------------ the map
    def phi(self, z: np.ndarray) -> np.ndarray:
        """Rectify the last P entries of ``z`` (..., latent)."""
        out = np.array(z, dtype=np.float64, copy=True)
        tail = out[..., self.latent_dim - self.n_pwl :]
        np.maximum(tail, 0.0, out=tail)
        return out

    def step(self, z: np.ndarray, s: np.ndarray | None = None) -> np.ndarray:
        """One step ``A * z + W phi(z) + C s + h``, batched over leading axes of ``z``.

        Parameters
        ----------
        z : ndarray, shape (..., latent)
        s : ndarray, shape (..., input), optional
            Inputs of this step (default 0).
        """
        out = self.A * z + self.phi(z) @ self.W.T + self.h
        return out if s is None else out + np.asarray(s, dtype=np.float64) @ self.C.T

    def bitcode(self, z: np.ndarray) -> np.ndarray:
        """Region code of each state (..., latent) -> (...); see :func:`bitcode`."""
        return bitcode(z, self.n_pwl)

    def code_bits(self, codes: np.ndarray) -> np.ndarray:
        """On/off state of each rectified unit per code; see :func:`code_bits`."""
        return code_bits(codes, self.n_pwl)

    def regions(self) -> np.ndarray:
        """All region codes ``0 .. 2^P - 1`` (int64), or an error beyond 2^20 regions."""
        if self.n_pwl > MAX_ENUMERATED_PWL:
            raise ConfigError(
                f"n_pwl={self.n_pwl} has 2^{self.n_pwl} regions, too many to enumerate (limit "
                f"P <= {MAX_ENUMERATED_PWL}); fix: pass the codes actually visited, e.g. "
                "np.unique(latents['bitcode'])"
            )
        return np.arange(self.n_regions, dtype=np.int64)

    def check_codes(self, codes: np.ndarray) -> np.ndarray:
        """``codes`` as int64, or a :class:`ConfigError` naming values outside [0, 2^P)."""
        codes = np.asarray(codes, dtype=np.int64)
        if codes.size and (codes.min() < 0 or codes.max() >= self.n_regions):
            raise ConfigError(
                f"region codes must lie in [0, 2^P) = [0, {self.n_regions}); got "
                f"{int(codes.min())}..{int(codes.max())}"
            )
        return codes

    def region_jacobians(self, codes: np.ndarray | None = None) -> np.ndarray:
        """Region maps ``J_d = diag(A) + W D_d``.

        Parameters
        ----------
        codes : ndarray of int, shape (region,), optional
            Region codes (default: all 2^P regions).

        Returns
        -------
        ndarray, shape (region, latent, latent2)
        """
        codes = self.regions() if codes is None else self.check_codes(codes)
        m, p = self.latent_dim, self.n_pwl
        cols = np.ones((codes.size, m))
        cols[:, m - p :] = code_bits(codes.ravel(), p)
        return self.W[None] * cols[:, None, :] + np.diag(self.A)[None]

    def drive(self, inputs: np.ndarray | None = None) -> np.ndarray:
        """Constant drive ``h + C s`` for inputs (..., input) -> (..., latent); ``h`` if None."""
        if inputs is None:
            return self.h.copy()
        s = np.asarray(inputs, dtype=np.float64)
        if s.shape[-1] != self.input_dim:
            raise DataValidationError(
                f"inputs have {s.shape[-1]} channels but the model has K={self.input_dim}"
            )
        return s @ self.C.T + self.h

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_model(cls, source: Any) -> ALRNNParams:
        """The parameters of a trained AL-RNN.

        Parameters
        ----------
        source : ALRNN, FitModel, FitResult, Mapping or ALRNNParams
            A :class:`~alrnn_neuro.models.alrnn.ALRNN` (one model, not an ensemble), anything
            with a ``dynamics`` (``FitModel``) or ``model`` (``FitResult``) attribute holding
            one, or a mapping with ``A, W, C, h, n_pwl``. For a run directory use
            ``load_run(path).params``.

        Returns
        -------
        ALRNNParams
            Input names are taken from the fit's config where it has one.
        """
        if isinstance(source, ALRNNParams):
            return source
        if isinstance(source, str | os.PathLike):
            raise ConfigError(
                f"ALRNNParams.from_model got a path ({source}); fix: load the run first, "
                "alrnn_neuro.load_run(path).params"
            )
        if isinstance(source, Mapping):
            names = ("A", "W", "C", "h", "n_pwl")
            missing = [n for n in names if n not in source]
            if missing:
                raise ConfigError(f"parameter mapping lacks {missing}; it needs {list(names)}")
            return cls(**{n: source[n] for n in names})
        names = tuple(getattr(getattr(source, "config", None), "inputs", ()) or ())
        for attr in ("model", "dynamics"):
            inner = getattr(source, attr, None)
            if inner is not None and not isinstance(inner, str):
                params = cls.from_model(inner)
                if names and len(names) == params.input_dim and not params.input_names:
                    params = params.with_input_names(names)
                return params
        missing = [n for n in ("A", "W", "C", "h", "pwl_mask") if not hasattr(source, n)]
        if missing:
            raise ConfigError(
                f"{type(source).__name__} is not an AL-RNN (it has no {missing}); fix: pass an "
                "ALRNN, a FitModel / FitResult of model='alrnn', or a run directory"
            )
        arrays = {n: _numpy(getattr(source, n)) for n in ("A", "W", "C", "h", "pwl_mask")}
        if arrays["A"].ndim != 1:
            raise ConfigError(
                f"the model has ensemble dims (A shape {arrays['A'].shape}); fix: take one "
                "member first, ALRNNParams.from_model(model.member(i))"
            )
        if hasattr(source, "a_mask"):  # A only on some units (a_placement="pwl"): 0 elsewhere
            arrays["A"] = arrays["A"] * _numpy(source.a_mask)
        n_pwl = n_pwl_from_mask(arrays.pop("pwl_mask"))
        return cls(**arrays, n_pwl=n_pwl)

    def with_input_names(self, names: tuple[str, ...]) -> ALRNNParams:
        """A copy with ``input_names`` set."""
        return ALRNNParams(self.A, self.W, self.C, self.h, self.n_pwl, tuple(names))

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping ``{A, W, C, h, n_pwl, input_names}`` (arrays as lists), for JSON."""
        out: dict[str, Any] = {n: getattr(self, n).tolist() for n in ("A", "W", "C", "h")}
        return {**out, "n_pwl": self.n_pwl, "input_names": list(self.input_names)}


def n_pwl_from_mask(pwl_mask: np.ndarray) -> int:
    """Number P of rectified units from a (latent,) 0/1 mask that is 1 on the last P only.

    Examples
    --------
    >>> n_pwl_from_mask(np.array([0, 0, 1]))
    1
    """
    mask = np.asarray(pwl_mask).astype(bool)
    n_pwl = int(mask.sum())
    if not np.array_equal(mask, np.arange(mask.size) >= mask.size - n_pwl):
        raise ConfigError(
            f"pwl_mask={mask.astype(int).tolist()} must be ones on the LAST P units only; fix: "
            "order the latents so the rectified units come last"
        )
    return n_pwl


def _float_array(value: Any, name: str) -> np.ndarray:
    try:
        return np.array(_numpy(value), dtype=np.float64, copy=True)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{name} must be a numeric array ({error})") from None


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # torch tensor, without importing torch here
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)
