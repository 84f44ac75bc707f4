"""The report of a real ``striate train`` run, rendered in headless Chromium: every image loads,
every link names a file of the run, and the page shows what the issue asks for."""

import re
import shutil
import subprocess
from html import unescape
from pathlib import Path
from urllib.parse import unquote

import pytest

pytest.importorskip("matplotlib")

from striate.cli import main  # noqa: E402

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
# Appended to a copy of the page (the report itself has no scripts): on load, list the images
# that did not decode into a marker the dumped DOM carries.
CHECK = """<script>
window.addEventListener("load", () => {
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0)
    .map(i => i.getAttribute("src"));
  const marker = document.createElement("pre");
  marker.id = "image-check";
  marker.textContent = "IMAGES " + document.images.length + " BROKEN [" + broken.join(",") + "]";
  document.body.appendChild(marker);
});
</script>"""


def browser() -> str:
    found = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    if found is None:
        pytest.skip("no Chromium binary on PATH (Debian: apt-get install -y chromium)")
    return found


def rendered_images(page: Path, profile: Path) -> tuple[int, list[str]]:
    """(images on the page, the sources of those that failed to load), as Chromium sees them."""
    check = page.with_name("check.html")
    check.write_text(page.read_text(encoding="utf-8").replace("</body>", CHECK + "\n</body>"),
                     encoding="utf-8")
    try:
        dom = subprocess.run(
            [browser(), "--headless=new", "--no-sandbox", "--disable-gpu",
             f"--user-data-dir={profile}", "--allow-file-access-from-files",
             "--virtual-time-budget=5000", "--dump-dom", check.as_uri()],
            capture_output=True, text=True, timeout=120, check=True).stdout
    finally:
        check.unlink()
    marker = re.search(r'<pre id="image-check">IMAGES (\d+) BROKEN \[([^\]]*)\]</pre>', dom)
    assert marker, f"the check script did not run; Chromium printed: {dom[-500:]!r}"
    return int(marker[1]), [s for s in unescape(marker[2]).split(",") if s]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_fmnist):
    """A two-epoch LeNet-5 run on a tiny dataset (a few seconds)."""
    out = tmp_path_factory.mktemp("report") / "run"
    assert main(["train", "--dataset", "mnist", "--data-dir", str(tiny_fmnist), "--epochs", "2",
                 "--batch-size", "32", "--out", str(out), "--no-progress", "--seed", "3"]) == 0
    return out


def test_every_image_loads_in_chromium(run_dir, tmp_path):
    count, broken = rendered_images(run_dir / "index.html", tmp_path / "profile")
    assert count >= 4 and broken == []


def test_a_missing_image_is_caught(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "filters.png").unlink()
    _, broken = rendered_images(copy / "index.html", tmp_path / "profile")
    assert broken == ["filters.png"]


def test_report_shows_settings_tables_summary_and_links(run_dir):
    text = (run_dir / "index.html").read_text(encoding="utf-8")
    for heading in ("Hyperparameters", "Per epoch", "Per class, on the test set", "Model",
                    "Files"):
        assert f"<h2>{heading}</h2>" in text
    for label in ("Test accuracy", "Training time", "Command"):
        assert f"<th>{label}</th>" in text
    assert "test_accuracy" not in text and "train_seconds" not in text
    assert "striate train --dataset mnist" in text and "<dt>batch_size</dt><dd>32</dd>" in text
    assert "<th>precision</th><th>recall</th><th>F1</th>" in text
    assert "Total params" in text
    links = {unquote(h) for h in re.findall(r'<a href="([^"]+)">', text)}
    on_disk = {p.name for p in run_dir.iterdir() if p.name != "index.html"}
    assert {"metrics.csv", "last.safetensors", "best.safetensors", "curves.png"} <= links
    assert on_disk <= links and all((run_dir / link).is_file() for link in links)
