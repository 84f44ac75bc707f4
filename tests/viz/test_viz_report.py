"""write_report: one self-contained, escaped HTML page linking the run's PNGs."""

import html
import os
import re

import pytest

pytest.importorskip("matplotlib")  # the viz package imports it, though the report needs none

import striate.fileio  # noqa: E402
from striate.viz.report import write_report  # noqa: E402

TITLE = 'LeNet <5> & "friends"'
SUMMARY = {"model": "lenet5", "dataset": "fashion-mnist", "epochs": 20, "best val acc": 0.91234,
           "training time (s)": 73.4, "command line": "striate train --lr 0.1 <x>"}


def _pngs(run_dir, names):
    for name in names:
        (run_dir / name).write_bytes(b"\x89PNG\r\n\x1a\n")
    return [run_dir / name for name in names]


def test_report_contents(tmp_path):
    curves, cm, extra = _pngs(tmp_path, ["curves.png", "confusion.png", "a b&c.png"])
    tables = [("Per-class <accuracy>", [("T-shirt/top", 0.9), ("Bag & co", 0.95)],
               ["class", "accuracy"])]
    path = write_report(tmp_path, TITLE, SUMMARY,
                        [curves, (cm, "Confusion <test>"), "a b&c.png"], tables)
    assert path == tmp_path / "index.html"
    text = path.read_text(encoding="utf-8")

    assert f"<title>{html.escape(TITLE)}</title>" in text
    assert f"<h1>{html.escape(TITLE)}</h1>" in text
    assert TITLE not in text and "<5>" not in text and "<x>" not in text
    for src in ["curves.png", "confusion.png", "a%20b%26c.png"]:
        assert f'<img src="{src}"' in text and f'<a href="{src}"' in text
    assert "Confusion &lt;test&gt;" in text and "<figcaption>curves</figcaption>" in text
    assert "Per-class &lt;accuracy&gt;" in text and "Bag &amp; co" in text
    assert "<th>class</th><th>accuracy</th>" in text
    assert '<td class="num">0.9123</td>' in text and '<td class="num">20</td>' in text
    assert '<td class="mono">striate train --lr 0.1 &lt;x&gt;</td>' in text
    # Summary rows keep their order; the page needs nothing from outside.
    summary = text.split('<table class="summary">')[1].split("</table>")[0]
    keys = re.findall(r"<tr><th>([^<]*)</th>", summary)
    assert keys == [html.escape(k) for k in SUMMARY]
    assert not re.search(r"<script|<link|https?://|@import|url\(", text)


def test_relative_image_paths_resolve_from_cwd_or_run_dir(tmp_path, monkeypatch):
    run = tmp_path / "runs" / "x"
    run.mkdir(parents=True)
    _pngs(run, ["curves.png"])
    monkeypatch.chdir(tmp_path)
    text = write_report("runs/x", "t", {}, ["runs/x/curves.png", "curves.png"]).read_text()
    assert text.count('src="curves.png"') == 2


def test_creates_run_dir_and_allows_empty_sections(tmp_path):
    path = write_report(tmp_path / "new" / "run", "t", {}, [])
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<h1>t</h1>" in text
    assert "<figure" not in text and "<table" not in text


def test_written_atomically(tmp_path, monkeypatch):
    (tmp_path / "index.html").write_text("old report")
    write_report(tmp_path, "first", {}, [])
    assert os.listdir(tmp_path) == ["index.html"]

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(striate.fileio.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_report(tmp_path, "second", {}, [])
    assert "<h1>first</h1>" in (tmp_path / "index.html").read_text()
    assert os.listdir(tmp_path) == ["index.html"]
