"""The arguments a model builder takes, checked before the model is built: ``--model-args``
and a checkpoint's ``model.args``.  Argument names are those the registry builder takes
(following its ``**kwargs`` into the constructor it passes them to), values are checked against
their annotations within the bounds of ``json_bounds``.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import UserError
from ..interop.safetensors import short_repr
from .json_bounds import expected, fits, from_json

MODEL_SIZE_ARGS = ("num_classes", "in_channels", "input_size")  # set by the data, not args


def check_model_args(name: Any, args: Mapping[str, Any], *, where: str) -> None:
    """Refuse an unknown model, or an argument its builder does not take or of the wrong type or
    range (see ``json_bounds``).  ``where`` starts the message (``"--model-args"``).

    ``args`` may include ``num_classes``, ``in_channels`` and ``input_size``.  The builder may
    still refuse a combination (``densenet_bc`` depth 6n + 4) with a ValueError of its own.
    """
    from .. import models

    if not isinstance(name, str) or name not in models.list_models():
        raise UserError(f"unknown model {short_repr(name)}; choose from "
                        f"{', '.join(models.list_models())}")
    if not isinstance(args, Mapping):
        raise UserError(f"{where} must be a JSON object of {name}'s arguments, got "
                        f"{short_repr(args)}")
    params = _builder_parameters(name)
    settable = sorted(key for key, p in params.items() if from_json(p.annotation))
    for key, value in args.items():
        if key not in params:
            raise UserError(f"{where}: {name} takes no argument {short_repr(key)}; it takes "
                            f"{', '.join(settable)}")
        if key not in settable:
            raise UserError(f"{where}: {name}'s argument {key} cannot be given as JSON")
        annotation = params[key].annotation
        if not fits(value, annotation, key):
            raise UserError(f"{where}: {key} must be {expected(annotation, key)}, got "
                            f"{short_repr(value)}")


# --- following the builder's **kwargs ----------------------------------------------------------


@functools.cache
def _builder_parameters(name: str) -> dict[str, inspect.Parameter]:
    from .. import models

    return _keyword_parameters(getattr(models, name))


def _keyword_parameters(func: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The keyword arguments ``func`` takes: its named parameters and, when it has ``**kwargs``,
    those of the function or class it passes them on to, less the ones it passes itself.
    ``**kwargs`` that cannot be followed (no source, an unusual call) add nothing."""
    signature = inspect.signature(func, eval_str=True)
    params = {n: p for n, p in signature.parameters.items()
              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    rest = next((n for n, p in signature.parameters.items() if p.kind is p.VAR_KEYWORD), None)
    forwarded = _forwarding_call(func, rest) if rest else None
    if forwarded is not None:
        callee, positional, named = forwarded
        order = list(inspect.signature(callee).parameters)
        taken = set(order[:positional]) | named
        for key, p in _keyword_parameters(callee).items():
            if key not in taken:
                params.setdefault(key, p)
    return params


def _forwarding_call(func: Callable[..., Any], rest: str
                     ) -> tuple[Callable[..., Any], int, set[str]] | None:
    """(callee, number of positional arguments, keyword names) of the call in ``func``'s source
    that passes ``**rest`` on, or None."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and any(
                k.arg is None and isinstance(k.value, ast.Name) and k.value.id == rest
                for k in node.keywords):
            names = vars(inspect.getmodule(func) or ast)
            callee = names.get(node.func.id) if isinstance(node.func, ast.Name) else None
            if callee is None or any(isinstance(a, ast.Starred) for a in node.args):
                return None
            return callee, len(node.args), {k.arg for k in node.keywords if k.arg}
    return None
