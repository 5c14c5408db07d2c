"""Writing matplotlib figures: one place for the folder, layout and close steps."""

from __future__ import annotations

from pathlib import Path


def save_figure(fig, path, dpi: int = 100) -> Path:
    """``tight_layout``, create the parent folder, write ``path`` (PNG) and close ``fig``."""
    import matplotlib.pyplot as plt

    path = Path(path)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
