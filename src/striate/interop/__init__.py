"""Moving models in and out: safetensors files, PyTorch weights, ONNX."""
