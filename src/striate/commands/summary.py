"""``striate summary``: a Keras-style table of a model's layers, parameters and FLOPs."""

from __future__ import annotations

import argparse

from ..errors import UserError
from .model_args import parse_model_args


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "summary", help="print a model's layers, output shapes, parameters and FLOPs",
        description="Print a table of each layer's output shape, parameter count and FLOPs "
                    "(2 per multiply-accumulate, conv and linear layers) for one input image.")
    p.add_argument("model", nargs="?", help="model name, e.g. lenet5, resnet20, vgg16")
    p.add_argument("--list", action="store_true", help="list the available models")
    p.add_argument("--num-classes", type=int, default=None,
                   help="classes of the output layer (default: the model's own)")
    p.add_argument("--in-channels", type=int, default=None,
                   help="channels of the input image (default: the model's own)")
    p.add_argument("--input-size", type=int, default=None,
                   help="height = width of the input (default: the model's own)")
    p.add_argument("--model-args", default="{}", metavar="JSON",
                   help='extra model arguments as JSON, e.g. \'{"depth": 40}\'')
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import models
    from ..nn.summary import format_summary
    from ..train.model_args import check_model_args

    if args.list or not args.model:
        print("\n".join(models.list_models()))
        return 0
    if args.model not in models.list_models():
        raise UserError(f"unknown model {args.model!r}; see 'striate summary --list'")
    kwargs = parse_model_args(args.model_args, args.model)
    for key in ("num_classes", "in_channels", "input_size"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    check_model_args(args.model, kwargs, where="the options")
    try:
        model = models.get_model(args.model, **kwargs)
    except (TypeError, ValueError) as e:
        raise UserError(f"cannot build {args.model}: {e}") from None
    size = kwargs.get("input_size") or models.default_input_size(args.model)
    channels = kwargs.get("in_channels") or models.default_in_channels(args.model)
    print(format_summary(model, (channels, size, size)))
    return 0
