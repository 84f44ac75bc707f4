"""``benchmarks/conv_vs_torch.py --model``: every distinct convolution of a zoo model, as the
N,C,H,O,K,S,P,G its ``--layer`` takes, with how often the model has it."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "conv_vs_torch.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("conv_vs_torch", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_models_layers_are_listed_with_their_counts():
    layers = load_benchmark().model_layers
    assert layers("lenet5", 4, None) == {"4,1,28,6,5,1,2,1": 1, "4,6,14,16,5,1,0,1": 1}
    mobilenet = layers("mobilenet_v1", 2, 32)
    assert mobilenet["2,3,32,32,3,2,1,1"] == 1  # the stem
    assert mobilenet["2,512,2,512,3,1,1,512"] == 5  # the five depthwise 512-channel layers
    assert sum(mobilenet.values()) == 27


def test_layer_and_pool_specs_are_positive_integers_but_the_padding():
    sizes = load_benchmark().sizes
    assert sizes("16,64,8,64,3,1,0", (7, 8), padding_at=6) == [16, 64, 8, 64, 3, 1, 0]
    assert sizes("16,64,8,64,3,1,1,64", (7, 8), padding_at=6)[-1] == 64
    for bad in ("16,64", "16,64,8,64,3,0,0", "16,64,8,64,3,1,-1", "16,64,8,x,3,1,0", ""):
        assert sizes(bad, (7, 8), padding_at=6) is None, bad
