"""Write docs/zoo.md, the architecture zoo, from the models themselves.

    python docs/figures/make_zoo_page.py

For every model of ``striate.models.list_models()``: the paper, the form (from docs/models.md's
table), the parameter count and a table of its top-level blocks counted from the built model, and
the measured accuracy and speed where docs/results.md and docs/performance.md have them.
tests/test_docs_site.py checks the counts in the page against the models. It takes a second with
``nn.utils.skip_init``, which leaves the weights undrawn.
"""

from __future__ import annotations

import re
from pathlib import Path

import striate.models as M
import striate.nn.utils as nn_utils
from striate.nn.utils import count_parameters

DOCS = Path(__file__).resolve().parent.parent

# The paper each family comes from (the model names start with the key).
REFERENCES = {
    "lenet5": "Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, \"Gradient-based learning applied to "
              "document recognition\", Proc. IEEE 86(11), 1998",
    "alexnet": "A. Krizhevsky, I. Sutskever and G. E. Hinton, \"ImageNet classification with deep "
               "convolutional neural networks\", NeurIPS 2012",
    "vgg": "K. Simonyan and A. Zisserman, \"Very deep convolutional networks for large-scale "
           "image recognition\", ICLR 2015",
    "googlenet": "C. Szegedy et al., \"Going deeper with convolutions\", CVPR 2015",
    "resnet": "K. He, X. Zhang, S. Ren and J. Sun, \"Deep residual learning for image "
              "recognition\", CVPR 2016",
    "densenet": "G. Huang, Z. Liu, L. van der Maaten and K. Q. Weinberger, \"Densely connected "
                "convolutional networks\", CVPR 2017",
    "mobilenet": "A. G. Howard et al., \"MobileNets: efficient convolutional neural networks for "
                 "mobile vision applications\", arXiv:1704.04861, 2017",
    "allconv": "J. T. Springenberg, A. Dosovitskiy, T. Brox and M. Riedmiller, \"Striving for "
               "simplicity: the all convolutional net\", ICLR 2015 workshop",
    "jarrett": "K. Jarrett, K. Kavukcuoglu, M. Ranzato and Y. LeCun, \"What is the best "
               "multi-stage architecture for object recognition?\", ICCV 2009",
}


def reference(name: str) -> str:
    return next(ref for key, ref in REFERENCES.items() if name.startswith(key))


def table_rows(path: Path) -> list[list[str]]:
    """The cells of every markdown table row in a page."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("|") and not set(line) <= set("|- "):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def forms() -> dict[str, str]:
    """models.md's "form" column, by model name."""
    return {r[0].strip("`"): r[1] for r in table_rows(DOCS / "models.md") if r[0].startswith("`")}


def results() -> dict[str, str]:
    """results.md's test accuracy, epochs and training time, by model name."""
    out = {}
    for r in table_rows(DOCS / "results.md"):
        if r[0].startswith("`") and len(r) >= 6:
            name, variant = r[0].split("`")[1], r[0].split("`")[2].strip()
            variant = f" (built with {variant.strip('()')})" if variant else ""
            out[name] = (f"{r[3].strip('*')} test accuracy{variant} on Fashion-MNIST after {r[2]} "
                         f"epoch{'' if r[2] == '1' else 's'}, "
                         f"{r[4].replace(' (see below)', '')} on 2 cores: `{r[5].strip('`')}`")
    return out


def speeds() -> dict[str, str]:
    """performance.md's first (headline) batch-128 line per model."""
    out: dict[str, str] = {}
    line = re.compile(r"^(\w+)\s+(\d+)\s+128 \|\s+(\d+)\s+(\d+)\s+([\d.]+) \|[^|]+\|\s+(\d+)\s+"
                      r"(\d+)\s+([\d.]+) \|")
    for text in (DOCS / "performance.md").read_text(encoding="utf-8").splitlines():
        m = line.match(text)
        if m and m.group(1) not in out:
            name, _, train, _, ratio, infer, _, iratio = m.groups()
            out[name] = (f"{int(train):,} training and {int(infer):,} inference images/s at batch "
                         f"128 ({ratio}× and {iratio}× PyTorch's, 2-core AMD EPYC)")
    return out


def build(name: str):
    """``get_model(name)``, without drawing the weights where ``nn.utils.skip_init`` exists."""
    skip_init = getattr(nn_utils, "skip_init", None)
    return M.get_model(name) if skip_init is None else skip_init(M.get_model, name)


def blocks(model) -> list[tuple[str, str, int]]:
    """(name, type, parameters) of each top-level child."""
    return [(name, type(child).__name__, count_parameters(child))
            for name, child in model.named_children()]


def main() -> None:
    form, result, speed = forms(), results(), speeds()
    out = ["# The architecture zoo", "",
           "<!-- Written by docs/figures/make_zoo_page.py; edit that script, not this page. -->",
           "",
           "Every model `striate.models.list_models()` names, built with its defaults as "
           "`get_model(name)`. The parameter counts and the block tables are counted from the "
           "built models by `docs/figures/make_zoo_page.py`, and `tests/test_docs_site.py` checks "
           "them; the counts also equal those of the models' PyTorch twins "
           "([parameter counts](models.md)). Any model trains on Fashion-MNIST with "
           "`striate train --model NAME` (the trainer builds it with `in_channels=1, "
           "input_size=28`); `striate summary NAME` prints each layer's output shape and FLOPs.",
           "", "| model | parameters | input | classes |", "|---|---|---|---|"]
    built = {}
    for name in M.list_models():
        model = build(name)
        built[name] = (count_parameters(model), blocks(model),
                       getattr(model, "num_classes", None) or _classes(model))
        size, chans = M.default_input_size(name), M.default_in_channels(name)
        out.append(f"| [`{name}`](#{name}) | {built[name][0]:,} | "
                   f"{chans}×{size}×{size} | {built[name][2]} |")
        del model
    for name in M.list_models():
        count, rows, classes = built[name]
        out += ["", f"## {name}", "", f"{form.get(name, '')}".strip() or "", "",
                f"- **Reference**: {reference(name)}.",
                f"- **Parameters**: {count:,} (`get_model(\"{name}\")`).",
                f"- **Input**: {M.default_in_channels(name)}×{M.default_input_size(name)}×"
                f"{M.default_input_size(name)}, {classes} classes."]
        if name in result:
            out.append(f"- **Measured**: {result[name]} ([results](results.md)).")
        if name in speed:
            out.append(f"- **Speed**: {speed[name]} ([performance](performance.md)).")
        out += ["", '??? note "Blocks"', "", "    | block | type | parameters |",
                "    |---|---|---|"]
        out += [f"    | `{b}` | {t} | {p:,} |" for b, t, p in rows]
    (DOCS / "zoo.md").write_text("\n".join(out) + "\n", encoding="utf-8")
    print("wrote", DOCS / "zoo.md")


def _classes(model) -> int:
    """The output width of the model's last linear (or 1×1 convolution) layer."""
    last = [m for m in model.modules() if hasattr(m, "out_features") or hasattr(m, "out_channels")]
    final = last[-1]
    return getattr(final, "out_features", None) or final.out_channels


if __name__ == "__main__":
    main()
