"""Steering colour with a global bias on the predicted histograms (no network run, no Qt).

For one colour channel with predicted histograms ``p_n`` (pixels n, bins k) and a bias ``b`` in R^K:

    p*_n = softmax(log p_n + b)
    E(b) = sum_n a_n KL(p*_n || p_n) + lambda * chi2_sym(m, t),   m = sum_n c_n p*_n

with ``a`` and ``c`` pixel weights summing to 1 (uniform by default: the plain means of DESIGN.md),
``chi2_sym(p, q) = sum_k (p_k - q_k)^2 / (p_k + q_k)`` and ``t`` a target histogram. b = 0 is the
prediction itself. With ``w = exp(b)``, ``Z_n = p_n . w`` and ``g = dchi2_sym(m, t)/dm``:

    KL_n = <b>_{p*_n} - log Z_n,     dE/db_j = sum_n p*_nj (a_n (b_j - <b>_n) + lambda c_n (g_j - <g>_n))

so energy and gradient need only a few (K, N) x (N,) reductions (single-threaded ``einsum``: BLAS
threads stall badly on a busy 2-core machine). Solver: L-BFGS (memory 8) with a diagonal Gauss-Newton
preconditioner and Armijo backtracking, so the energy never increases; E is not convex in b for large
lambda, so lambda is approached by continuation (lambda/100, lambda/10, lambda, warm-started).
The pixels are a fixed stride subsample of at most ``max_pixels`` = 16384 (b is global, 32 numbers).

Choices (measured with the bundled weights; benchmarks/eval_reference.py, benchmarks/bench_energy.py):
- ``strength`` (the user's lambda) is multiplied by ``LAMBDA_SCALE`` = 10. On split=val with each photo
  as its own reference, ab RMSE vs gray: strength 0.3 -40%, 1 -44%, 3 -44%, 10 -44% (quantile
  matching -35%, automatic -17%): 1 is the default, past ~3 only confident pixels are forced.
- Hue targets weight each reference pixel by its chroma (gray pixels carry no hue, exactly as the
  training loss ``y_C KL(y_H || f_H)``); the image's own hue histogram is weighted the same way, by
  each pixel's expected chroma under the (already transferred) chroma posterior. Chroma is solved first.
- Stop: |grad|_inf < 1e-6, or an iteration improves E by < 1e-7 (relative), or 60 iterations
  (real photos converge in 15-40; further iterations change no posterior by more than 0.01 in L1).
- Samples: hue bias beta in [1, 2] along stratified directions phi, chroma push in [-0.2, 0.3], one
  chroma quantile q in [0.4, 0.65] for all pixels; chosen by looking at docs/samples_contact_sheet.png.
- Hints: target = the colour's histogram (Gaussian, 0.75 bins wide), strength 5, hue pixels weighted
  uniformly, mask feathered by a Gaussian of 1.5 grid pixels truncated at 2 sigma.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from colorizer.bins import BinScheme, gaussian_centers, hue_angles, uniform_centers
from colorizer.color import ab_to_offset, compose_with_luma, luma, rgb_to_hue_chroma, rgb_to_lab
from colorizer.pipeline import (GUIDE_SCALE, Colorizer, Prediction, RenderResult, RenderSettings, posterior,
                                render_probs, working_shape)

LAMBDA_SCALE = 10.0
EPS = 1e-12
BiasList = list  # list[np.ndarray | None], one entry per colour channel: (K,) global or (h, w, K) map


# ----- settings and results --------------------------------------------------------------------
@dataclass(frozen=True)
class EnergySettings:
    """How the bias is fitted.

    ``strength``: the user's lambda (scaled by LAMBDA_SCALE); ``max_iter``/``tol``: solver stop;
    ``max_pixels``: pixels used by the solve (stride subsample); ``history``: L-BFGS memory;
    ``hue_weighting``: ``chroma`` (gray pixels carry no hue) or ``uniform``; ``rel_tol``: stop when an
    iteration improves E by less (relative); ``continuation``: warm-start stages lambda/10^j, j = c..1;
    ``single_precision``: float32 histograms in the solver (2x faster, posteriors within 0.002 in L1).
    """

    strength: float = 1.0
    max_iter: int = 60
    tol: float = 1e-6
    rel_tol: float = 1e-7
    continuation: int = 2
    single_precision: bool = True
    max_pixels: int = 16384
    history: int = 8
    hue_weighting: str = "chroma"

    @property
    def lam(self) -> float:
        return float(self.strength) * LAMBDA_SCALE


@dataclass
class SolveResult:
    """A fitted bias ``b`` (K,), the energy after each iteration (``energies[0]`` at b = 0)."""

    bias: np.ndarray
    energies: list[float]
    iterations: int
    converged: bool


@dataclass
class Hint:
    """A user's region hint: ``mask`` (H, W) in [0, 1] (any size, resized to the photo) and ``rgb`` in [0, 1]."""

    mask: np.ndarray
    rgb: tuple[float, float, float]
    strength: float = 5.0
    feather: float = 1.5

    @classmethod
    def from_spec(cls, spec: str) -> "Hint":
        """Parse ``MASK.png:#RRGGBB`` (white = inside). Raises ValueError naming the problem."""
        m = re.fullmatch(r"(.+):#?([0-9a-fA-F]{6})", spec.strip())
        if not m:
            raise ValueError(f"bad hint {spec!r}: expected MASK.png:#RRGGBB")
        path, hexcol = Path(m.group(1)), m.group(2)
        from colorizer.imageio import ImageReadError, load_rgb
        try:
            mask_rgb = load_rgb(path)
        except ImageReadError as exc:
            raise ValueError(f"bad hint {spec!r}: {exc}") from None
        rgb = tuple(int(hexcol[i:i + 2], 16) / 255.0 for i in (0, 2, 4))
        return cls(mask=luma(mask_rgb).astype(np.float32), rgb=rgb)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SampleDraw:
    """One sample's set (not fitted) biases: hue direction ``phi`` (turns), ``beta``, ``chroma_push``,
    and the chroma quantile ``q`` used for every pixel (spatially coherent sampling)."""

    phi: float
    beta: float
    chroma_push: float
    q: float


@dataclass(frozen=True)
class SampleSettings:
    """Ranges the samples are drawn from (uniform); phi is stratified so samples differ."""

    beta: tuple[float, float] = (1.0, 2.0)
    chroma_push: tuple[float, float] = (-0.2, 0.3)
    q: tuple[float, float] = (0.4, 0.65)
    fading_eta: float = 0.02


# ----- posterior and energy --------------------------------------------------------------------
def biased_posterior(log_p: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """p* = softmax(log p + b) along the last axis."""
    z = log_p if bias is None else log_p + bias
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def chi2_sym(p: np.ndarray, q: np.ndarray) -> float:
    """Symmetric chi-square distance sum (p - q)^2 / (p + q)."""
    return float(np.sum((p - q) ** 2 / np.maximum(p + q, EPS)))


class _Problem:
    """Energy and gradient on a fixed set of pixels.

    Histograms are stored bins-first (K, N) and every product is a single-threaded ``einsum``: BLAS
    matrix-vector products are ~2x faster on an idle CPU but stall ~100x (thread hand-offs) on a busy one.
    """

    def __init__(self, probs: np.ndarray, target: np.ndarray, lam: float,
                 kl_weights: np.ndarray | None, mean_weights: np.ndarray | None, dtype: type = np.float64) -> None:
        p = np.asarray(probs, np.float64)
        p = p / np.maximum(p.sum(-1, keepdims=True), EPS)
        self.pt = np.ascontiguousarray(p.T, dtype=dtype)
        n = p.shape[0]
        self.a = _normalised(kl_weights, n).astype(dtype)
        self.c = _normalised(mean_weights, n).astype(dtype)
        t = np.asarray(target, np.float64)
        self.t = t / max(t.sum(), EPS)
        self.lam = float(lam)
        self.dtype = dtype
        self.pt2: np.ndarray | None = None

    def _pw(self, w: np.ndarray) -> np.ndarray:
        """sum_k p_nk w_k for each pixel n."""
        return np.einsum("kn,k->n", self.pt, w.astype(self.dtype))

    def _ptc(self, c: np.ndarray) -> np.ndarray:
        """sum_n p_nk c_n for each bin k (float64 result)."""
        return np.einsum("kn,n->k", self.pt, c.astype(self.dtype, copy=False)).astype(np.float64)

    def _parts(self, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        bs = b - b.max()
        w = np.exp(bs)
        z = np.maximum(self._pw(w), 1e-300 if self.dtype == np.float64 else 1e-37)
        bbar = self._pw(w * bs) / z
        kl = float(np.einsum("n,n->", self.a, bbar - np.log(z)))
        m = w * self._ptc(self.c / z)
        f = kl + self.lam * chi2_sym(m, self.t)
        return w, bs, z, bbar, m, f

    def value(self, b: np.ndarray) -> float:
        return self._parts(b)[-1]

    def value_grad(self, b: np.ndarray) -> tuple[float, np.ndarray]:
        w, bs, z, bbar, m, f = self._parts(b)
        s = np.maximum(m + self.t, EPS)
        g = self.lam * (m - self.t) * (m + 3 * self.t) / s ** 2
        gbar = self._pw(w * g) / z
        az, cz = self.a / z, self.c / z
        pa, pc = w * self._ptc(az), w * self._ptc(cz)  # sum_n a_n p*_nk, sum_n c_n p*_nk
        grad = bs * pa - w * self._ptc(az * bbar) + g * pc - w * self._ptc(cz * gbar)
        return f, grad

    def diag_hessian(self, b: np.ndarray) -> np.ndarray:
        """Diagonal Gauss-Newton curvature: sum_n a_n p*(1-p*) + lambda chi2''(m) (sum_n c_n p*(1-p*))^2."""
        bs = b - b.max()
        w = np.exp(bs)
        z = np.maximum(self._pw(w), 1e-300 if self.dtype == np.float64 else 1e-37)
        m = w * self._ptc(self.c / z)
        if self.pt2 is None:
            self.pt2 = self.pt * self.pt
        sq = lambda v: w * w * np.einsum("kn,n->k", self.pt2, (v / (z * z)).astype(self.dtype)).astype(np.float64)
        var_a = w * self._ptc(self.a / z) - sq(self.a)
        var_c = m - sq(self.c)
        chi2_curv = 8.0 * self.t ** 2 / np.maximum(m + self.t, EPS) ** 3
        h = var_a + self.lam * chi2_curv * var_c ** 2
        return np.maximum(h, max(1e-3 * float(h.max()), 1e-8))  # floor: no huge steps on empty bins


def _normalised(weights: np.ndarray | None, n: int) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.maximum(np.asarray(weights, np.float64).ravel(), 0.0)
    total = w.sum()
    return w / total if total > 0 else np.full(n, 1.0 / n)


def energy(probs: np.ndarray, target: np.ndarray, bias: np.ndarray, lam: float,
           kl_weights: np.ndarray | None = None, mean_weights: np.ndarray | None = None) -> float:
    """E(b) of the module docstring for (N, K) histograms ``probs``."""
    return _Problem(probs, target, lam, kl_weights, mean_weights).value(np.asarray(bias, np.float64))


def subsample_indices(n: int, max_pixels: int) -> np.ndarray:
    """A fixed stride subsample of ``range(n)`` of at most ``max_pixels`` (deterministic)."""
    if n <= max_pixels:
        return np.arange(n)
    return np.linspace(0, n - 1, max_pixels).round().astype(np.int64)


def solve_bias(probs: np.ndarray, target: np.ndarray, lam: float, settings: EnergySettings | None = None,
               kl_weights: np.ndarray | None = None, mean_weights: np.ndarray | None = None) -> SolveResult:
    """Minimise E(b) by L-BFGS with Armijo backtracking; ``probs`` (..., K) is flattened to pixels."""
    settings = settings or EnergySettings()
    k = probs.shape[-1]
    flat = probs.reshape(-1, k)
    idx = subsample_indices(flat.shape[0], settings.max_pixels)
    kw = None if kl_weights is None else np.asarray(kl_weights).reshape(-1)[idx]
    mw = None if mean_weights is None else np.asarray(mean_weights).reshape(-1)[idx]
    dtype = np.float32 if settings.single_precision else np.float64
    prob = _Problem(flat[idx], target, lam, kw, mw, dtype)
    energies = [prob.value(np.zeros(k))]
    if lam <= 0:
        return SolveResult(np.zeros(k, np.float32), energies, 0, True)
    # Continuation in lambda (E is not convex in b for large lambda): warm-start from weaker matches.
    b = np.zeros(k)
    total = 0
    stages = [lam * 10.0 ** -j for j in range(settings.continuation, 0, -1) if lam * 10.0 ** -j >= 0.1]
    coarse = dataclasses.replace(settings, rel_tol=1e-5, max_iter=max(5, settings.max_iter // 3))
    for lam_j in stages:
        b, _, used, _ = _lbfgs(_Problem(flat[idx], target, lam_j, kw, mw, dtype), b, coarse)
        total += used
    f = prob.value(b)
    if f > energies[0]:
        b, f = np.zeros(k), energies[0]
    energies = [energies[0]] + ([f] if stages else [])
    b, path, used, converged = _lbfgs(prob, b, settings)
    energies.extend(path[1:])
    b = b - b.mean()
    return SolveResult(b.astype(np.float32), energies, total + used, converged)


def _lbfgs(prob: "_Problem", b: np.ndarray, settings: EnergySettings) -> tuple[np.ndarray, list[float], int, bool]:
    """Minimise ``prob`` from ``b``; returns (b, energies after each accepted step, iterations, converged)."""
    f, g = prob.value_grad(b)
    energies = [f]
    s_hist: list[np.ndarray] = []
    y_hist: list[np.ndarray] = []
    precond = 1.0 / prob.diag_hessian(b)  # diagonal preconditioner (H0 of L-BFGS)
    converged = False
    it = 0
    for it in range(1, settings.max_iter + 1):
        if np.abs(g).max() < settings.tol:
            converged = True
            it -= 1
            break
        if it % 10 == 0:
            precond = 1.0 / prob.diag_hessian(b)
        d = -_two_loop(g, s_hist, y_hist, precond)
        slope = float(d @ g)
        if slope >= 0:
            d, slope = -precond * g, -float(g @ (precond * g))
        step, accepted = 1.0, False
        for _ in range(40):
            f_new = prob.value(b + step * d)
            if f_new <= f + 1e-4 * step * slope:
                accepted = True
                break
            step *= 0.5
        if not accepted:
            if s_hist:  # a stale curvature model: restart from the preconditioned gradient
                s_hist.clear()
                y_hist.clear()
                precond = 1.0 / prob.diag_hessian(b)
                continue
            converged = True
            break
        b_new = b + step * d
        f_new, g_new = prob.value_grad(b_new)
        sv, yv = b_new - b, g_new - g
        if sv @ yv > 1e-12:
            s_hist.append(sv)
            y_hist.append(yv)
            if len(s_hist) > settings.history:
                s_hist.pop(0)
                y_hist.pop(0)
        improvement = f - f_new
        b, f, g = b_new, f_new, g_new
        energies.append(f)
        if improvement < settings.rel_tol * max(1.0, abs(f)):
            converged = True
            break
    return b, energies, it, converged


def _two_loop(g: np.ndarray, s_hist: list[np.ndarray], y_hist: list[np.ndarray], h0: np.ndarray) -> np.ndarray:
    """L-BFGS two-loop recursion with a diagonal initial inverse Hessian ``h0``."""
    q = g.copy()
    alphas = []
    for s, y in zip(reversed(s_hist), reversed(y_hist)):
        rho = 1.0 / (y @ s)
        a = rho * (s @ q)
        alphas.append((a, rho, s, y))
        q -= a * y
    q *= h0
    for a, rho, s, y in reversed(alphas):
        q += (a - rho * (y @ q)) * s
    return q


# ----- targets ---------------------------------------------------------------------------------
def reference_histograms(scheme: BinScheme, rgb: np.ndarray, max_side: int = 384,
                         mask: np.ndarray | None = None) -> list[np.ndarray]:
    """Target histograms of a colour photo in the model's scheme (one (K,) per channel).

    Hue: each pixel counts with its chroma (gray pixels carry no hue); chroma, a, b, (a, b): plain counts.
    ``mask`` (H, W) marks the pixels that count (e.g. opaque ones).
    """
    rgb = np.asarray(rgb, np.float32)[..., :3]
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        if mask is not None:
            mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.999
    valid = np.ones(rgb.shape[:2], bool) if mask is None else mask.astype(bool)
    indices, chroma = scheme.bin_indices(rgb)
    out = []
    for c, (idx, k) in enumerate(zip(indices, scheme.channel_sizes)):
        weights = valid.astype(np.float64)
        if scheme.name == "hue_chroma" and c == 0:
            weights = weights * chroma
        hist = np.bincount(idx[valid].ravel(), weights=weights[valid].ravel(), minlength=k).astype(np.float64)
        if hist.sum() <= 0:
            hist = np.ones(k)
        out.append((hist / hist.sum()).astype(np.float32))
    return out


def colour_histograms(scheme: BinScheme, rgb: Sequence[float], spread: float = 0.75) -> list[np.ndarray]:
    """Soft target histograms for one colour (Gaussian of ``spread`` bins around its bin; hue circular)."""
    col = np.asarray(rgb, np.float32).reshape(1, 1, 3)
    k = scheme.bins
    if scheme.name == "hue_chroma":
        hue, chroma = rgb_to_hue_chroma(col)
        pos = [float(hue.ravel()[0]) * k - 0.5, float(chroma.ravel()[0]) * k - 0.5]
        circular = [True, False]
    else:
        lab = rgb_to_lab(col).ravel()
        q = gaussian_centers(k, scheme.sigma)
        pos = [float(np.interp(lab[1], q, np.arange(k))), float(np.interp(lab[2], q, np.arange(k)))]
        circular = [False, False]
    hists = []
    for x, circ in zip(pos, circular):
        d = np.arange(k) - x
        if circ:
            d = (d + k / 2) % k - k / 2
        hist = np.exp(-0.5 * (d / spread) ** 2)
        hists.append(hist / hist.sum())
    if scheme.name == "lab_joint":
        joint = np.outer(hists[0], hists[1]).ravel()
        return [(joint / joint.sum()).astype(np.float32)]
    return [h.astype(np.float32) for h in hists]


# ----- fitting biases on a prediction ----------------------------------------------------------
def expected_chroma(p_chroma: np.ndarray) -> np.ndarray:
    """Mean chroma of each chroma histogram (the hue channel's pixel weight)."""
    return np.einsum("...k,k->...", p_chroma, uniform_centers(p_chroma.shape[-1]).astype(p_chroma.dtype))


def fit_biases(prediction: Prediction, targets: Sequence[np.ndarray], settings: EnergySettings | None = None,
               region: np.ndarray | None = None, base: Sequence[np.ndarray | None] | None = None,
               lam: float | None = None) -> tuple[list[np.ndarray], list[SolveResult]]:
    """One global bias per channel so the (region's) histogram moves towards ``targets``.

    ``region`` (h, w) on the prediction grid weights the pixels (hints); ``base`` biases are applied
    first (the fitted bias is added on top). Hue/chroma: chroma is solved first, then hue with pixels
    weighted by their transferred expected chroma (``hue_weighting="chroma"``).
    """
    settings = settings or EnergySettings()
    lam = settings.lam if lam is None else lam
    scheme = prediction.scheme
    n_ch = len(prediction.log_probs)
    base = list(base) if base is not None else [None] * n_ch
    weights = None if region is None else region.reshape(-1).astype(np.float64)
    order = [1, 0] if scheme.name == "hue_chroma" else list(range(n_ch))
    biases: list[np.ndarray] = [np.zeros(s, np.float32) for s in scheme.channel_sizes]
    results: list[SolveResult | None] = [None] * n_ch
    n_pix = prediction.log_probs[0].shape[0] * prediction.log_probs[0].shape[1]
    if weights is None:
        sel = subsample_indices(n_pix, settings.max_pixels)
    else:
        sel = np.flatnonzero(weights > 1e-3)
        if sel.size == 0:
            sel = np.array([int(np.argmax(weights))])
        sel = sel[subsample_indices(sel.size, settings.max_pixels)]

    def channel_logits(c: int, extra: np.ndarray | None = None) -> np.ndarray:
        logits = prediction.log_probs[c]
        for b in (base[c], extra):
            if b is not None:
                logits = logits + b
        flat = np.broadcast_to(logits, prediction.log_probs[c].shape).reshape(-1, logits.shape[-1])
        return flat[sel]

    for c in order:
        probs = biased_posterior(channel_logits(c), None)
        kl_w = None if weights is None else weights[sel]
        mean_w = kl_w
        if scheme.name == "hue_chroma" and c == 0 and settings.hue_weighting == "chroma":
            ec = expected_chroma(biased_posterior(channel_logits(1, biases[1]), None))
            mean_w = ec if kl_w is None else ec * kl_w
        res = solve_bias(probs, targets[c], lam, settings, kl_weights=kl_w, mean_weights=mean_w)
        biases[c] = res.bias
        results[c] = res
    return biases, [r for r in results if r is not None]


def add_biases(*lists: Sequence[np.ndarray | None] | None) -> list[np.ndarray | None]:
    """Per-channel sum of bias lists (None entries skipped; global (K,) and (h, w, K) maps broadcast)."""
    lists = [lst for lst in lists if lst is not None]
    if not lists:
        return []
    out: list[np.ndarray | None] = []
    for parts in zip(*lists):
        present = [p for p in parts if p is not None]
        out.append(None if not present else sum(present[1:], present[0]))
    return out


def reference_biases(prediction: Prediction, reference_rgb: np.ndarray, strength: float = 1.0,
                     settings: EnergySettings | None = None) -> list[np.ndarray]:
    """Global biases that pull the prediction towards a reference photo's palette."""
    settings = settings or EnergySettings()
    targets = reference_histograms(prediction.scheme, reference_rgb)
    biases, _ = fit_biases(prediction, targets, settings, lam=float(strength) * LAMBDA_SCALE)
    return biases


# ----- region hints ------------------------------------------------------------------------------
def hint_biases(prediction: Prediction, hints: Sequence[Hint], settings: EnergySettings | None = None,
                base: Sequence[np.ndarray | None] | None = None) -> list[np.ndarray | None]:
    """Per-pixel bias maps (h, w, K) on the prediction grid for several hints.

    Each hint solves the energy over its own (grid-resized) mask with the hint colour as target; its
    bias is blended in with the feathered mask ``alpha``; overlapping hints share the weight.
    """
    settings = settings or EnergySettings()
    n_ch = len(prediction.log_probs)
    if not hints:
        return [None] * n_ch
    gh, gw = prediction.grid_size
    alphas, fitted = [], []
    for hint in hints:
        mask = np.clip(np.asarray(hint.mask, np.float32), 0.0, 1.0)
        region = cv2.resize(mask, (gw, gh), interpolation=cv2.INTER_AREA) if mask.shape != (gh, gw) else mask
        targets = colour_histograms(prediction.scheme, hint.rgb)
        hint_settings = EnergySettings(strength=hint.strength, max_iter=settings.max_iter, tol=settings.tol,
                                       max_pixels=settings.max_pixels, history=settings.history,
                                       hue_weighting="uniform")
        biases, _ = fit_biases(prediction, targets, hint_settings, region=region, base=base)
        if prediction.scheme.name == "hue_chroma" and max(hint.rgb) - min(hint.rgb) < 0.03:
            biases[0] = np.zeros_like(biases[0])  # a gray hint has no hue to ask for
        if hint.feather > 0:  # Gaussian feather truncated at 2 sigma: no far-reaching tail
            ksize = 2 * int(math.ceil(2 * hint.feather)) + 1
            alpha = cv2.GaussianBlur(region, (ksize, ksize), hint.feather, borderType=cv2.BORDER_REPLICATE)
        else:
            alpha = region
        alphas.append(np.clip(np.maximum(alpha, region * (region > 0.999)), 0.0, 1.0))
        fitted.append(biases)
    total = np.sum(alphas, axis=0)
    norm = np.where(total > 1.0, 1.0 / np.maximum(total, EPS), 1.0)
    maps: list[np.ndarray | None] = []
    for c in range(n_ch):
        acc = np.zeros((gh, gw, prediction.scheme.channel_sizes[c]), np.float32)
        for alpha, biases in zip(alphas, fitted):
            acc += (alpha * norm)[..., None] * biases[c]
        maps.append(acc)
    return maps


# ----- rendering ---------------------------------------------------------------------------------
def coherent_quantile(p: np.ndarray, q: float) -> np.ndarray:
    """Reweight histograms so their median sits at each one's own ``q``-quantile (same q everywhere).

    Mass below the q-quantile is scaled by 0.5/q and mass above by 0.5/(1-q), so a median decoder
    reads the q-quantile (exact at bin edges, within one bin otherwise): narrow (sure) histograms
    barely change, wide (unsure) ones move, all pixels in the same direction (spatially coherent).
    """
    q = float(np.clip(q, 1e-3, 1 - 1e-3))
    cdf = np.cumsum(p, axis=-1)
    below = np.clip(q - (cdf - p), 0.0, p)
    return (below * (0.5 / q) + (p - below) * (0.5 / (1.0 - q))).astype(np.float32)


def render_quantile(prediction: Prediction, probs: list[np.ndarray], settings: RenderSettings, q: float) -> RenderResult:
    """Render with the chroma (or a, b) decoded at one quantile ``q`` for every pixel.

    Hue stays a circular mean (a quantile has no meaning on the circle; the hue bias moves it).
    """
    if prediction.scheme.name == "lab_joint" or abs(q - 0.5) < 1e-6:
        return render_probs(prediction, probs, settings)
    start = 1 if prediction.scheme.name == "hue_chroma" else 0
    moved = list(probs[:start]) + [coherent_quantile(p, q) for p in probs[start:]]
    result = render_probs(prediction, moved, settings)
    result.probs = probs
    return result


def draw_samples(n: int, seed: int = 0, sample_settings: SampleSettings | None = None) -> list[SampleDraw]:
    """``n`` reproducible bias draws; hue directions are stratified around the circle."""
    ss = sample_settings or SampleSettings()
    rng = np.random.default_rng(seed)
    start = rng.uniform()
    order = rng.permutation(n) if n > 0 else np.arange(0)
    draws = []
    for i in range(n):
        phi = (start + (order[i] + rng.uniform(0.1, 0.9)) / max(n, 1)) % 1.0
        draws.append(SampleDraw(phi=float(phi), beta=float(rng.uniform(*ss.beta)),
                                chroma_push=float(rng.uniform(*ss.chroma_push)), q=float(rng.uniform(*ss.q))))
    return draws


def sample_bias(scheme: BinScheme, draw: SampleDraw) -> list[np.ndarray | None]:
    """Set (not fitted) biases of one draw: ``beta cos(theta_k - 2 pi phi)`` on hue, a chroma tilt.

    Lab schemes: the same direction as a tilt ``beta (cos phi a_k + sin phi b_k) / sigma``.
    """
    k = scheme.bins
    if scheme.name == "hue_chroma":
        hue_b = draw.beta * np.cos(hue_angles(k) - 2 * math.pi * draw.phi)
        chroma_b = draw.chroma_push * 4.0 * (uniform_centers(k) - 0.5)
        return [hue_b.astype(np.float32), chroma_b.astype(np.float32)]
    q = gaussian_centers(k, scheme.sigma) / scheme.sigma
    ca, sa = math.cos(2 * math.pi * draw.phi), math.sin(2 * math.pi * draw.phi)
    if scheme.name == "lab_marginal":
        return [(draw.beta * ca * q).astype(np.float32), (draw.beta * sa * q).astype(np.float32)]
    a, b = np.meshgrid(q, q, indexing="ij")
    return [(draw.beta * (ca * a + sa * b)).ravel().astype(np.float32)]


def render_samples(prediction: Prediction, n: int, seed: int = 0, settings: RenderSettings | None = None,
                   base: Sequence[np.ndarray | None] | None = None,
                   sample_settings: SampleSettings | None = None) -> list[RenderResult]:
    """``n`` plausible colourisations: uncertain pixels follow the set biases, confident ones stay."""
    return list(iter_samples(prediction, n, seed, settings, base, sample_settings))


def iter_samples(prediction: Prediction, n: int, seed: int = 0, settings: RenderSettings | None = None,
                 base: Sequence[np.ndarray | None] | None = None,
                 sample_settings: SampleSettings | None = None) -> Iterator[RenderResult]:
    """Like :func:`render_samples`, one render at a time (keeps memory bounded for large photos)."""
    ss = sample_settings or SampleSettings()
    for draw in draw_samples(n, seed, ss):
        yield render_sample(prediction, draw, settings, base, ss)


def render_sample(prediction: Prediction, draw: SampleDraw, settings: RenderSettings | None = None,
                  base: Sequence[np.ndarray | None] | None = None,
                  sample_settings: SampleSettings | None = None) -> RenderResult:
    """One sample: the draw's biases on top of ``base``, decoded at the draw's coherent quantile."""
    ss = sample_settings or SampleSettings()
    settings = settings or RenderSettings()
    settings = settings.replace(fading_eta=min(settings.fading_eta, ss.fading_eta))
    biases = add_biases(base, sample_bias(prediction.scheme, draw))
    return render_quantile(prediction, posterior(prediction, settings, biases), settings, draw.q)


def render_with_biases(colorizer: Colorizer | None, prediction: Prediction, biases: Sequence[np.ndarray | None] | None,
                       settings: RenderSettings | None = None) -> RenderResult:
    """Render with extra biases (the uncertainty map comes from this posterior)."""
    settings = settings or RenderSettings()
    if colorizer is not None:
        return colorizer.render(prediction, settings, biases)
    return render_probs(prediction, posterior(prediction, settings, biases), settings)


def preview_prediction(prediction: Prediction, max_side: int = 512, grid_side: int | None = 160) -> Prediction:
    """A lighter copy of ``prediction`` for slider previews (compute once, render many times).

    The output is at most ``max_side`` on its longest side; with ``grid_side`` the histograms are also
    area-averaged down to at most that many cells per side (probabilities averaged, then logged).
    Biases fitted on the full prediction apply unchanged; per-pixel (hint) maps must be resized.
    """
    changes: dict = {}
    nh, nw = working_shape(*prediction.size, max_side)
    if (nh, nw) != prediction.size:
        changes["lightness"] = cv2.resize(prediction.lightness, (nw, nh), interpolation=cv2.INTER_AREA)
    gh, gw = prediction.grid_size
    gscale = 1.0 if grid_side is None else min(1.0, grid_side / max(gh, gw))
    if gscale < 1.0:
        gsize = (max(1, round(gw * gscale)), max(1, round(gh * gscale)))
        changes["log_probs"] = [np.log(np.maximum(_resize_stack(np.exp(lp), gsize), 1e-30)).astype(np.float32)
                                for lp in prediction.log_probs]
        changes["small_lightness"] = cv2.resize(prediction.small_lightness, gsize, interpolation=cv2.INTER_AREA)
        if prediction.guide is not None:  # keep the guide at GUIDE_SCALE x the (smaller) grid
            guide_size = (GUIDE_SCALE * gsize[0], GUIDE_SCALE * gsize[1])
            changes["guide"] = cv2.resize(prediction.guide, guide_size, interpolation=cv2.INTER_AREA)
    return dataclasses.replace(prediction, **changes) if changes else prediction


def _resize_stack(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """INTER_AREA resize of an (h, w, K) stack (OpenCV's area resize takes at most 4 channels at a time)."""
    parts = [cv2.resize(np.ascontiguousarray(x[..., i:i + 4]), size, interpolation=cv2.INTER_AREA)
             for i in range(0, x.shape[-1], 4)]
    parts = [p[..., None] if p.ndim == 2 else p for p in parts]
    return np.concatenate(parts, axis=-1)


# ----- reference transfer ------------------------------------------------------------------------
def reference_transfer(colorizer: Colorizer | None, prediction: Prediction, reference_rgb: np.ndarray,
                       strength: float = 1.0, method: str = "energy",
                       settings: RenderSettings | None = None) -> RenderResult:
    """Colourise towards a reference photo's palette: ``energy`` (fitted bias) or ``quantile`` matching."""
    settings = settings or RenderSettings()
    if method == "energy":
        return render_with_biases(colorizer, prediction, reference_biases(prediction, reference_rgb, strength), settings)
    if method == "quantile":
        auto = render_with_biases(colorizer, prediction, None, settings)
        return quantile_transfer(auto, reference_rgb, strength)
    raise ValueError(f"unknown reference method {method!r}; expected energy or quantile")


def render_with_reference(colorizer: Colorizer | None, prediction: Prediction, reference_rgb: np.ndarray,
                          settings: RenderSettings | None = None) -> RenderResult:
    """The ``colorizer eval --reference-from-gt`` renderer: energy transfer at the default strength."""
    return reference_transfer(colorizer, prediction, reference_rgb, EnergySettings().strength, "energy", settings)


def _ab_scale(lab_l: np.ndarray) -> np.ndarray:
    """How much a/b room a lightness leaves (1 mid-gray, small near black/white): the normalisation."""
    return np.clip(np.minimum(lab_l, 100.0 - lab_l) / 50.0, 0.1, 1.0)


def quantile_transfer(result: RenderResult, reference_rgb: np.ndarray, strength: float = 1.0,
                      max_side: int = 384) -> RenderResult:
    """Lightness-normalised quantile matching of a rendered result's a*, b* onto a reference's.

    a and b are divided by a lightness-dependent scale (the room a lightness leaves for colour), mapped
    rank-for-rank onto the reference's normalised values, and scaled back; the lightness is kept.
    ``strength`` in [0, 1] blends from the input result (0) to the full match (1).
    """
    rgb = result.rgb
    lab = rgb_to_lab(rgb)
    ref = np.asarray(reference_rgb, np.float32)[..., :3]
    scale_ref = min(1.0, max_side / max(ref.shape[:2]))
    if scale_ref < 1.0:
        ref = cv2.resize(ref, (max(1, round(ref.shape[1] * scale_ref)), max(1, round(ref.shape[0] * scale_ref))),
                         interpolation=cv2.INTER_AREA)
    ref_lab = rgb_to_lab(ref).reshape(-1, 3)
    s_img = _ab_scale(lab[..., 0])
    s_ref = _ab_scale(ref_lab[:, 0])
    mixed = np.empty(lab.shape[:2] + (2,), np.float32)
    for j in (1, 2):
        src = (lab[..., j] / s_img).ravel()
        ref_vals = np.sort(ref_lab[:, j] / s_ref)
        ranks = np.empty(src.size, np.float64)
        ranks[np.argsort(src, kind="stable")] = np.linspace(0.0, 1.0, src.size)
        matched = np.interp(ranks, np.linspace(0.0, 1.0, ref_vals.size), ref_vals).reshape(src.shape[0])
        val = matched.reshape(lab.shape[:2]) * s_img
        w = float(np.clip(strength, 0.0, 1.0))
        mixed[..., j - 1] = (1 - w) * lab[..., j] + w * val
    lightness = luma(rgb)
    offset = ab_to_offset(mixed[..., 0], mixed[..., 1], lightness)
    out = compose_with_luma(lightness, offset)
    return RenderResult(rgb=out, uncertainty=result.uncertainty, probs=result.probs)


# ----- timing ------------------------------------------------------------------------------------
def bench_energy(colorizer: Colorizer, repeats: int = 7, lightness: np.ndarray | None = None,
                 photo_side: int = 1000) -> dict:
    """Median milliseconds of the energy operations on one cached prediction (for ``colorizer bench``).

    ``lightness`` defaults to a synthetic ``photo_side`` square; the colouriser's working size sets the grid.
    """
    import os
    import statistics
    import time

    cpu: dict[str, float] = {}

    def median_ms(fn, name: str | None = None) -> float:
        fn()
        times, cpu_times = [], []
        for _ in range(max(1, repeats)):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times.append((time.perf_counter() - t0) * 1000.0)
            cpu_times.append((time.process_time() - c0) * 1000.0)
        if name:
            cpu[name] = round(statistics.median(cpu_times), 2)
        return round(statistics.median(times), 2)

    rng = np.random.default_rng(0)
    if lightness is None:
        yy, xx = np.mgrid[0:photo_side, 0:photo_side] / photo_side
        lightness = (0.5 + 0.3 * np.sin(9 * xx) * np.cos(7 * yy) + 0.1 * rng.standard_normal((photo_side,) * 2))
        lightness = np.clip(lightness, 0, 1).astype(np.float32)
    t0 = time.perf_counter()
    pred = colorizer.predict(lightness)
    predict_ms = (time.perf_counter() - t0) * 1000.0
    ref = rng.uniform(size=(300, 400, 3)).astype(np.float32) * np.array([0.4, 0.8, 1.0], np.float32)
    targets = reference_histograms(pred.scheme, ref)
    slider = RenderSettings().replace(hue_bias=1.0, hue_direction=0.3)
    biases, results = fit_biases(pred, targets)
    preview = preview_prediction(pred, 512, 160)
    mask = np.zeros(pred.size, np.float32)
    mask[pred.size[0] // 4: pred.size[0] // 2, pred.size[1] // 4: pred.size[1] // 2] = 1.0
    hint = Hint(mask=mask, rgb=(0.2, 0.7, 0.3))
    probs = posterior(pred, slider, biases)
    return {
        "load_average_1min": round(os.getloadavg()[0], 2),
        "photo": list(pred.size), "working_size": list(pred.working_size), "grid": list(pred.grid_size),
        "predict_ms_once": round(predict_ms, 1),
        "solve_iterations": [r.iterations for r in results],
        "energy_solve_ms": median_ms(lambda: fit_biases(pred, targets), "energy_solve"),
        "reference_histograms_ms": median_ms(lambda: reference_histograms(pred.scheme, ref)),
        "render_full_ms": median_ms(lambda: colorizer.render(pred, slider, biases), "render_full"),
        "render_preview_ms": median_ms(lambda: colorizer.render(preview, slider, biases), "render_preview"),
        "preview_size": list(preview.size), "preview_grid": list(preview.grid_size),
        "make_preview_once_ms": median_ms(lambda: preview_prediction(pred, 512, 160)),
        "full_breakdown_ms": {
            "posterior": median_ms(lambda: posterior(pred, slider, biases)),
            "decode_upsample_compose": median_ms(lambda: render_probs(pred, probs, slider)),
            "decode_on_grid_only": median_ms(lambda: pred.scheme.decode_offset(probs, pred.small_lightness,
                                                                                slider.decode_options())),
        },
        "hint_solve_ms": median_ms(lambda: hint_biases(pred, [hint])),
        "sample_render_preview_ms": median_ms(lambda: render_samples(preview, 1, 0)),
        "cpu_time_ms": cpu,  # process CPU time: close to wall time on an idle machine for 1-thread work
        "targets_ms": {"energy_solve": 150, "render": 50},
    }


__all__ = [
    "EnergySettings", "SolveResult", "Hint", "SampleDraw", "SampleSettings", "LAMBDA_SCALE",
    "biased_posterior", "chi2_sym", "energy", "solve_bias", "reference_histograms", "colour_histograms",
    "fit_biases", "add_biases", "reference_biases", "hint_biases", "render_quantile", "draw_samples",
    "sample_bias", "render_samples", "render_with_biases", "reference_transfer", "render_with_reference", "quantile_transfer",
    "coherent_quantile", "preview_prediction", "expected_chroma", "subsample_indices", "bench_energy",
]
