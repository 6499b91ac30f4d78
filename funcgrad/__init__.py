"""funcgrad: JAX-style function transformations (grad, vjp, jvp, vmap) on NumPy alone.

>>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
>>> fg.grad(lambda w: fnp.sum(fnp.tanh(w) ** 2))(np.zeros(3))
array([0., 0., 0.])
"""

from funcgrad import ad_checkpoint as ad_checkpoint
from funcgrad import checkpoint_policies as checkpoint_policies
from funcgrad import debug as debug
from funcgrad import export as export
from funcgrad import lax as lax
from funcgrad import nn as nn
from funcgrad import numpy as numpy
from funcgrad import optim as optim
from funcgrad import random as random
from funcgrad import scipy as scipy
from funcgrad import test_util as test_util
from funcgrad import tree_util as tree_util
from funcgrad import typing as typing
from funcgrad.core.config import config as config
from funcgrad.transforms.api import grad as grad
from funcgrad.transforms.api import hessian as hessian
from funcgrad.transforms.api import jacfwd as jacfwd
from funcgrad.transforms.api import jacrev as jacrev
from funcgrad.transforms.api import jvp as jvp
from funcgrad.transforms.api import linearize as linearize
from funcgrad.transforms.api import value_and_grad as value_and_grad
from funcgrad.transforms.api import vjp as vjp
from funcgrad.transforms.batching import pmap as pmap
from funcgrad.transforms.batching import vmap as vmap
from funcgrad.transforms.callback import pure_callback as pure_callback
from funcgrad.transforms.custom import checkpoint as checkpoint
from funcgrad.transforms.custom import custom_jvp as custom_jvp
from funcgrad.transforms.custom import custom_vjp as custom_vjp
from funcgrad.transforms.custom import remat as remat
from funcgrad.transforms.custom import stop_gradient as stop_gradient
from funcgrad.transforms.extras import ShapeDtypeStruct as ShapeDtypeStruct
from funcgrad.transforms.extras import block_until_ready as block_until_ready
from funcgrad.transforms.extras import closure_convert as closure_convert
from funcgrad.transforms.extras import custom_gradient as custom_gradient
from funcgrad.transforms.extras import device_put as device_put
from funcgrad.transforms.extras import eval_shape as eval_shape
from funcgrad.transforms.extras import linear_transpose as linear_transpose
from funcgrad.transforms.extras import make_jaxpr as make_jaxpr
from funcgrad.transforms.jit import disable_jit as disable_jit
from funcgrad.transforms.jit import jit as jit
from funcgrad.transforms.memory import memory_report as memory_report
from funcgrad.transforms.profiler import profile as profile

tree = tree_util

__version__ = "0.1.0"

__all__ = [
    "ad_checkpoint", "checkpoint", "checkpoint_policies", "config", "custom_jvp", "custom_vjp",
    "debug",
    "disable_jit", "grad", "jit", "hessian", "jacfwd", "jacrev", "optim",
    "jvp", "lax", "linearize", "make_jaxpr", "nn", "numpy", "random", "remat", "scipy",
    "stop_gradient",
    "test_util", "tree", "tree_util", "typing", "value_and_grad", "vjp", "vmap",
    "ShapeDtypeStruct", "block_until_ready", "closure_convert", "custom_gradient", "device_put",
    "eval_shape", "linear_transpose", "pure_callback", "memory_report", "pmap", "profile",
]
