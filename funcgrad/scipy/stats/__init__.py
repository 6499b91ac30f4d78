"""``fg.scipy.stats``: log-densities, densities and distribution functions, as
``jax.scipy.stats`` (each distribution a module of functions: ``norm.logpdf(x, loc, scale)``).

Every function broadcasts its arguments, is a composite of ``fg.scipy.special`` (so it is
differentiable in every continuous argument, batches and stages), and returns ``-inf`` log
densities outside the support.

>>> import numpy as np
>>> from funcgrad.scipy.stats import norm
>>> norm.cdf(np.array([0.0]))
array([0.5])
"""

from funcgrad.scipy.stats import bernoulli as bernoulli
from funcgrad.scipy.stats import beta as beta
from funcgrad.scipy.stats import gamma as gamma
from funcgrad.scipy.stats import multivariate_normal as multivariate_normal
from funcgrad.scipy.stats import norm as norm
from funcgrad.scipy.stats import poisson as poisson

__all__ = ["bernoulli", "beta", "gamma", "multivariate_normal", "norm", "poisson"]
