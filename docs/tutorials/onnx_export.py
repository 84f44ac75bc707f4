"""Export a striate model to ONNX, run it in onnxruntime, and load it back.

    python docs/tutorials/onnx_export.py         # needs onnx and onnxruntime

More on what export records and which operators it writes: docs/onnx.md.
"""

from __future__ import annotations

import numpy as np

import striate as st
import striate.nn.functional as F
from striate.interop.onnx import export, load


def main(path: str = "lenet5.onnx", steps: int = 5, seed: int = 0) -> float:
    st.manual_seed(seed)
    rng = np.random.default_rng(seed)

    # 1. A model trained for a few steps on random data (a stand-in for a real dataset).
    model = st.models.lenet5(num_classes=10)
    optimizer = st.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(steps):
        x = st.tensor(rng.standard_normal((16, 1, 28, 28)).astype(np.float32))
        y = st.tensor(rng.integers(0, 10, 16))
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    # 2. Export: one forward pass on an example batch is traced in evaluation mode; every op it
    #    calls becomes ONNX nodes, every parameter an initializer under its state_dict key. The
    #    batch dimension stays free, and the file can standardise its input itself.
    model.eval()
    onnx_path = export(model, np.zeros((1, 1, 28, 28), np.float32), path,
                       normalization=(np.array([0.5]), np.array([0.25])),
                       class_names=[str(i) for i in range(10)])

    # 3. Run it in onnxruntime, at another batch size, and compare with striate.
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    pixels = rng.random((3, 1, 28, 28), dtype=np.float32)  # images scaled to [0, 1]
    logits = session.run(None, {session.get_inputs()[0].name: pixels})[0]
    with st.no_grad():
        expected = model(st.tensor((pixels - 0.5) / 0.25)).numpy()
    gap = float(np.abs(logits - expected).max())
    print(f"onnxruntime against striate: largest difference {gap:.1e}")

    # 4. Load the file back as a trainable striate model.
    again = load(onnx_path).eval()
    with st.no_grad():
        back = again(st.tensor(pixels)).numpy()
    print(f"loaded back: largest difference {np.abs(back - logits).max():.1e}; "
          f"parameters {sorted(again.state_dict())[:3]} ...")
    assert gap < 1e-4
    return gap


if __name__ == "__main__":
    main()
