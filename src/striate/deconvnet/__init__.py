"""Deconvolutional Networks (Zeiler, Krishnan, Taylor & Fergus, CVPR 2010): layers that explain
their input as a sum of sparse feature maps convolved with learned filters, inferred by
optimisation, stacked greedily.  See docs/deconvnet.md."""

from .layer import DeconvLayer
from .net import DeconvNet

__all__ = ["DeconvLayer", "DeconvNet"]
