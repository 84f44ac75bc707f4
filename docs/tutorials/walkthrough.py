"""A first session with the ``striate`` command line: look for the data, train from a config
file, read the report, evaluate, predict on images of your own, export the model.

    python docs/tutorials/walkthrough.py            # 5 epochs of LeNet-5 on Fashion-MNIST

Each step is one shell command (``COMMANDS``), run here through ``striate.cli.main`` so that the
test suite replays the session; type them in a shell and you get the same.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from striate.cli import main as striate_cli

# run.toml: the options of `striate train`, by their long names; flags take true or false.
RUN_TOML = """\
model = "lenet5"
dataset = "fashion-mnist"
epochs = 5
batch-size = 128
lr = 0.05
schedule = "onecycle"
augment = "translate"
seed = 0
"""

COMMANDS = [
    "striate datasets",                                      # 1. is the data here?
    "striate train --config {dir}/run.toml --out {dir}/run",  # 2. train (+ report)
    "striate evaluate {dir}/run --json",                     # 3. measure on the test set
    "striate predict {dir}/run {dir}/images --json",          # 4. classify image files
    "striate export {dir}/run --out {dir}/lenet5.safetensors",  # 5. weights for PyTorch
]


def striate(command: str) -> str:
    """Run one ``striate ...`` command line in this process; its output, also printed."""
    print(f"$ {command}")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = striate_cli(shlex.split(command)[1:])
    print(out.getvalue(), end="")
    if status != 0:
        raise SystemExit(f"'{command}' failed with exit status {status}")
    return out.getvalue()


def save_test_images(dataset: str, data_dir: str | None, folder: Path, n: int = 4) -> None:
    """A few test-set images as PNG files: stand-ins for photos of your own."""
    from PIL import Image

    from striate.data import get_dataset

    test = get_dataset(dataset, "test", data_dir=data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        label = test.classes[int(test.labels[i])].replace("/", "-")
        Image.fromarray(np.asarray(test.images[i, 0])).save(folder / f"{i}-{label}.png")


def main(workdir: str = "walkthrough", train_options: str = "",
         data_dir: str | None = None) -> dict:
    """Run the session in ``workdir``. ``train_options`` are added to the ``train`` command,
    where they override run.toml (the tests pass a smaller dataset and one epoch);
    ``data_dir`` is where the data is, if not where ``striate datasets`` looks."""
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.toml").write_text(RUN_TOML)
    where = f" --data-dir {shlex.quote(data_dir)}" if data_dir else ""
    steps = [c.format(dir=shlex.quote(str(folder))) for c in COMMANDS]
    steps[0] += where
    steps[1] += where + (f" {train_options}" if train_options else "")
    outputs = {}
    for name, command in zip(("datasets", "train", "evaluate", "predict", "export"), steps,
                             strict=True):
        if name == "predict":
            config = json.loads(outputs["evaluate"])
            save_test_images(config["dataset"], data_dir, folder / "images")
        outputs[name] = striate(command)
    return {"evaluate": json.loads(outputs["evaluate"]),  # one object
            "predict": [json.loads(line) for line in outputs["predict"].splitlines()],  # one a line
            "run": folder / "run"}


if __name__ == "__main__":
    main(*sys.argv[1:2])
