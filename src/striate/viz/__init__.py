"""Pictures of a training run: curves, confusion matrix, filters, feature maps, mistakes, report.

Every plot takes plain NumPy arrays or lists, writes a PNG atomically and returns its path;
matplotlib is used through its Agg canvas only, so nothing here needs a display or pyplot.

    from striate import viz
    viz.plot_curves(history, run_dir / "curves.png")
    viz.write_report(run_dir, "LeNet-5 on Fashion-MNIST", summary, [run_dir / "curves.png"])
"""

from .confusion import plot_confusion
from .curves import plot_curves
from .images import plot_feature_maps, plot_filters, plot_misclassified
from .report import write_report

__all__ = [
    "plot_curves", "plot_confusion", "plot_filters", "plot_feature_maps", "plot_misclassified",
    "write_report",
]
