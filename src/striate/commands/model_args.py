"""``--model-args JSON``: extra builder arguments, parsed and checked against the builder."""

from __future__ import annotations

import json
from typing import Any

from ..errors import UserError


def parse_model_args(text: str, model: str) -> dict[str, Any]:
    """The JSON object ``text`` as keyword arguments that ``model``'s builder accepts."""
    from ..train.model_args import check_model_args

    try:
        args = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"--model-args is not valid JSON: {e}") from None
    if not isinstance(args, dict):
        raise UserError("--model-args must be a JSON object, e.g. '{\"depth\": 40}'")
    check_model_args(model, args, where="--model-args")
    return args
