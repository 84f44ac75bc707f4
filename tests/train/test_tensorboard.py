"""``striate train --tensorboard``: TensorBoard event files in RUN/tensorboard/, read back here
through their TFRecord framing (length, masked CRC-32C, Event protobuf, masked CRC-32C)."""

from __future__ import annotations

import struct
import sys
import tomllib
from collections import defaultdict

import pytest

from striate.cli import main
from striate.train.checkpoint import load_checkpoint
from striate.train.tensorboard import scalar_tag

tensorboardX = pytest.importorskip("tensorboardX")


def masked_crc(data: bytes) -> int:
    from tensorboardX.crc32c import crc32c

    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_events(path) -> list:
    """The Event messages of one event file, every record's two checksums checked."""
    from tensorboardX.proto.event_pb2 import Event

    data, events, at = path.read_bytes(), [], 0
    while at < len(data):
        header = data[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[at + 8:at + 12])
        assert header_crc == masked_crc(header)
        body = data[at + 12:at + 12 + length]
        (body_crc,) = struct.unpack("<I", data[at + 12 + length:at + 16 + length])
        assert body_crc == masked_crc(body)
        events.append(Event.FromString(body))
        at += 16 + length
    return events


def scalars(path) -> dict[str, dict[int, float]]:
    """tag -> {step: value} of one event file."""
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for event in read_events(path):
        for value in event.summary.value:
            out[value.tag][event.step] = value.simple_value
    return out


def train(tiny_fmnist, out, *extra: str) -> int:
    return main(["train", "--dataset", "mnist", "--data-dir", str(tiny_fmnist), "--out", str(out),
                 "--limit", "96", "--batch-size", "32", "--no-plots", "--no-progress",
                 "--conv-plan", "rules", "--tensorboard", *extra])


@pytest.fixture(scope="module")
def run(tiny_fmnist, tmp_path_factory):
    out = tmp_path_factory.mktemp("tb") / "run"
    assert train(tiny_fmnist, out, "--epochs", "2") == 0
    return out


def test_every_epoch_and_every_step_is_in_the_event_file(run):
    files = sorted((run / "tensorboard").glob("events.out.tfevents.*"))
    assert len(files) == 1
    found = scalars(files[0])
    meta = load_checkpoint(run / "last.safetensors").meta
    history, lr_steps = meta["history"], meta["lr_steps"]
    assert len(history) == 2 and len(lr_steps) > 2
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
        assert found[scalar_tag(key)] == pytest.approx(
            {row["epoch"]: row[key] for row in history}, rel=1e-6)
    assert found["lr/step"] == pytest.approx(
        {i + 1: lr for i, lr in enumerate(lr_steps)}, rel=1e-6)  # one-cycle, every step


def test_the_option_is_in_the_run_config(run):
    assert tomllib.loads((run / "config.toml").read_text())["tensorboard"] is True
    assert load_checkpoint(run / "last.safetensors").meta["config"]["tensorboard"] is True


def test_resume_starts_a_file_that_purges_the_earlier_ones(tiny_fmnist, tmp_path):
    out = tmp_path / "run"
    assert train(tiny_fmnist, out, "--epochs", "1") == 0
    assert main(["train", "--resume", str(out), "--epochs", "2", "--no-progress"]) == 0
    files = sorted((out / "tensorboard").glob("events.out.tfevents.*"),
                   key=lambda p: p.stat().st_mtime_ns)
    assert len(files) == 2
    events = read_events(files[-1])
    starts = [e for e in events if e.HasField("session_log")]
    assert starts and starts[0].step == 0  # TensorBoard drops the earlier files' events
    meta = load_checkpoint(out / "last.safetensors").meta
    found = scalars(files[-1])
    assert sorted(found["loss/train"]) == [1, 2]
    assert sorted(found["lr/step"]) == list(range(1, len(meta["lr_steps"]) + 1))


def test_without_tensorboardx_a_one_line_error(tiny_fmnist, tmp_path, monkeypatch, capsys):
    for name in [m for m in sys.modules if m.split(".")[0] == "tensorboardX"]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it fails
    assert train(tiny_fmnist, tmp_path / "run", "--epochs", "1") == 2
    err = capsys.readouterr().err
    assert "tensorboardX" in err and "pip install" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # refused before the run folder was made


def test_tags():
    assert scalar_tag("train_loss") == "loss/train"
    assert scalar_tag("val_top5") == "top5/val"
    assert scalar_tag("lr") == "lr/epoch"
