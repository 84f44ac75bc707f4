"""``striate summary``: a Keras-style table of a model's layers, parameters and FLOPs, the memory
of its activations in training, and the model zoo with each model's size."""

from __future__ import annotations

import argparse
import fnmatch

from ..errors import UserError
from .model_args import parse_model_args


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "summary", help="print a model's layers, output shapes, parameters and FLOPs",
        description="Print a table of each layer's output shape, parameter count and FLOPs "
                    "(2 per multiply-accumulate, conv and linear layers) for one input image, "
                    "and with --batch-size the memory a training step keeps for the backward "
                    "pass. Without a model, or with --list, list the models.")
    p.add_argument("model", nargs="?",
                   help="model name, e.g. lenet5, resnet20, vgg16 (default: list the models)")
    p.add_argument("--list", nargs="?", const="*", default=None, metavar="PATTERN",
                   help="list the models whose names match PATTERN, a glob such as 'resnet*' "
                        "or a part of the name, with their parameters and native input size "
                        "(default: every model)")
    p.add_argument("--batch-size", type=int, default=None, metavar="B",
                   help="also estimate the memory of the activations a training step at B "
                        "images keeps for its backward pass, measured on a batch of 2 (default: "
                        "no estimate)")
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

    if args.list is not None or not args.model:
        print(model_list(args.list or "*"))
        return 0
    if args.batch_size is not None and args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.model not in models.list_models():
        raise UserError(f"unknown model {args.model!r}; see 'striate summary --list'")
    kwargs = parse_model_args(args.model_args, args.model)
    for key in ("num_classes", "in_channels", "input_size"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    check_model_args(args.model, kwargs, where="the options")
    try:
        model = shape_only(args.model, **kwargs)
    except (TypeError, ValueError) as e:
        raise UserError(f"cannot build {args.model}: {e}") from None
    size = kwargs.get("input_size") or models.default_input_size(args.model)
    channels = kwargs.get("in_channels") or models.default_in_channels(args.model)
    print(format_summary(model, (channels, size, size)))
    if args.batch_size is not None:
        from ..nn.summary import activation_bytes

        kept = activation_bytes(model, (channels, size, size), args.batch_size)
        dtype = next((p.dtype for p in model.parameters()), "float32")
        print(f"Activations kept for the backward pass at batch {args.batch_size} ({dtype}): "
              f"{kept / 2**20:,.1f} MiB ({kept / args.batch_size / 2**20:,.2f} MiB per image; "
              "gradients, optimiser state and temporaries come on top)")
    return 0


def shape_only(name: str, **kwargs):
    """Model ``name`` with zero weights: built without drawing them (``nn.utils.skip_init``),
    since a table of shapes, counts and memory needs none, then zeroed so that a forward pass
    is clean arithmetic. VGG-16 takes a few milliseconds instead of seconds."""
    from .. import models
    from ..nn.utils import skip_init

    model = skip_init(models.get_model, name, **kwargs)
    for p in model.parameters():
        p.data[...] = 0
    return model


def model_list(pattern: str) -> str:
    """The zoo's models whose names match ``pattern`` (a glob, or a part of the name), one a
    line, with their parameters and default input (channels x size x size)."""
    from .. import models
    from ..nn.utils import count_parameters, skip_init

    glob = any(c in pattern for c in "*?[")
    names = [n for n in models.list_models()
             if (fnmatch.fnmatchcase(n, pattern) if glob else pattern in n)]
    if not names:
        raise UserError(f"no model matches {pattern!r}; see 'striate summary --list'")
    rows = [(n, f"{count_parameters(skip_init(models.get_model, n)):,}",
             f"{models.default_in_channels(n)}x{models.default_input_size(n)}"
             f"x{models.default_input_size(n)}") for n in names]
    width = max(len(n) for n in names)
    counts = max(len(r[1]) for r in rows)
    lines = [f"{'model':<{width}}  {'parameters':>{max(counts, 10)}}  input"]
    lines += [f"{n:<{width}}  {c:>{max(counts, 10)}}  {i}" for n, c, i in rows]
    return "\n".join(lines)
