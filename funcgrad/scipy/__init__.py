"""``fg.scipy``: ``jax.scipy``'s ``linalg``, ``special``, ``stats`` and ``optimize`` on NumPy
alone (SciPy is only the tests' oracle).

>>> import funcgrad as fg, numpy as np
>>> fg.scipy.special.logsumexp(np.zeros(2)).round(6)
np.float64(0.693147)
"""

from funcgrad.scipy import linalg as linalg
from funcgrad.scipy import optimize as optimize
from funcgrad.scipy import special as special
from funcgrad.scipy import stats as stats

__all__ = ["linalg", "optimize", "special", "stats"]
