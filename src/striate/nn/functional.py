"""The functional interface, with PyTorch's names and signatures.  Each name is an op from
``striate.ops`` (or a thin wrapper over one); see its docstring for the forward and backward."""

from ..ops.shape import cat, flatten, pad  # noqa: F401

# --- conv ---
# --- pool ---
# --- norm ---
# --- activation, linear, dropout, loss ---
