"""Steering colour with a global bias on the predicted histograms (no network run, no Qt).

For one colour channel with predicted histograms ``p_n`` (pixels n, bins k) and a bias ``b`` in R^K:

    p*_n = softmax(log p_n + b)
    E(b) = sum_n a_n KL(p*_n || p_n) + lambda * chi2_sym(m, t),   m = sum_n c_n p*_n

with ``a`` and ``c`` pixel weights summing to 1 (uniform by default: the plain means of DESIGN.md),
``chi2_sym(p, q) = sum_k (p_k - q_k)^2 / (p_k + q_k)`` and ``t`` a target histogram. b = 0 is the
prediction itself. With ``w = exp(b)``, ``Z_n = p_n . w`` and ``g = dchi2_sym(m, t)/dm``:

    KL_n = <b>_{p*_n} - log Z_n,     dE/db_j = sum_n p*_nj (a_n (b_j - <b>_n) + lambda c_n (g_j - <g>_n))

so energy and gradient need only a few (K, N) x (N,) reductions (single-threaded ``einsum``: BLAS
threads stall badly on a busy 2-core machine). Solver: scipy's L-BFGS-B (memory 8) in variables scaled
by the diagonal Gauss-Newton curvature (a diagonal preconditioner); its line search never increases E.
E is not convex in b for large lambda, so lambda is approached by continuation (lambda/100, lambda/10,
lambda, warm-started). The pixels are a fixed stride subsample of at most ``max_pixels`` = 16384.

Solver measured against the former hand-written L-BFGS (two-loop recursion, Armijo backtracking, the
same preconditioner refreshed every 10 iterations; commit 5296930) before it was removed: bundled model,
2-core CPU, four bw-samples photos at 1000 x 1000 (working size 1024, 256 x 256 grid) x five corpus
photos as references, ``fit_biases`` medians of 5 runs. Strength 1: scipy 71 ms (57 iterations, both
channels and all continuation stages) vs 82 ms (65); strength 3: 73 ms vs 88 ms. scipy's final energy
was lower or equal in 65% (strength 1) and 90% (strength 3) of the 20 pairs, otherwise within 3e-5.

Choices (measured with the bundled weights; benchmarks/eval_reference.py, benchmarks/bench_energy.py):
- ``strength`` (the user's lambda) is multiplied by ``LAMBDA_SCALE`` = 10. On split=val with each photo
  as its own reference, ab RMSE vs gray: strength 0.3 -40%, 1 -44%, 3 -44%, 10 -44% (quantile
  matching -35%, automatic -17%): 1 is the default, past ~3 only confident pixels are forced.
- Hue targets weight each reference pixel by its chroma (gray pixels carry no hue, exactly as the
  training loss ``y_C KL(y_H || f_H)``); the image's own hue histogram is weighted the same way, by
  each pixel's expected chroma under the (already transferred) chroma posterior. Chroma is solved first.
- Stop: projected gradient below 1e-6, or an iteration improves E by < 1e-7 (relative), or 60
  iterations (real photos converge in 15-40; further iterations change no posterior by more than 0.01).
- Samples: hue bias beta in [1, 2] along stratified directions phi, chroma push in [-0.2, 0.3], one
  chroma quantile q in [0.4, 0.65] for all pixels; chosen by looking at docs/samples_contact_sheet.png.
- Hints: target = the colour's histogram (Gaussian, 0.75 bins wide), strength 5, hue pixels weighted
  uniformly, over the hint's region: the object(s) the brushed mask is on, found by
  ``colorizer.hint_regions`` (lightness affinity, the stroke's lightness, the model's belief), feathered
  by a Gaussian of 0.75 grid pixels truncated at 2 sigma.
- Reference ``amount`` (the app's match control): the fitted bias times amount in [0, 1], so the
  control runs from the prediction (0) to the full match (1) without a new fit while it is dragged.

Modules: ``solver`` (E, gradient, L-BFGS-B), ``targets`` (target histograms), ``fitting`` (biases on a
prediction), ``hints`` (region hints), ``samples`` (alternative colourisations), ``quantile`` (quantile
matching). Composing all of them into one picture is ``colorizer.recipe.render``'s job.
"""

from colorizer.energy.fitting import add_biases, fit_biases, reference_biases, scale_biases
from colorizer.energy.hints import FittedHint, Hint, blend_hints, fit_hint, hint_biases, parse_hex_colour
from colorizer.energy.quantile import quantile_transfer
from colorizer.energy.samples import (SampleDraw, SampleSettings, coherent_quantile, draw_samples, iter_samples,
                                      render_quantile, render_sample, render_samples, sample_bias)
from colorizer.energy.solver import (LAMBDA_SCALE, EnergyProblem, EnergySettings, SolveResult, chi2_sym, energy,
                                     solve_bias, subsample_indices)
from colorizer.bins import colour_histograms
from colorizer.energy.targets import expected_chroma, image_hue_histogram, reference_histograms

__all__ = [
    "EnergySettings", "SolveResult", "EnergyProblem", "Hint", "SampleDraw", "SampleSettings", "LAMBDA_SCALE",
    "chi2_sym", "energy", "solve_bias", "subsample_indices", "reference_histograms", "colour_histograms",
    "expected_chroma", "image_hue_histogram", "fit_biases", "add_biases", "reference_biases", "hint_biases",
    "FittedHint", "fit_hint", "blend_hints", "scale_biases",
    "parse_hex_colour", "coherent_quantile", "render_quantile", "draw_samples", "sample_bias", "render_sample",
    "iter_samples", "render_samples", "quantile_transfer",
]
