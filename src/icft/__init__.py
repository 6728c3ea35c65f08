"""icft: should new knowledge go in the context or in the weights? Controlled worlds, learning modes
(pretrained, ICL, fine-tuning, augmented fine-tuning, FTICL), evaluation and reports."""

__version__ = "0.1.0"

from icft.errors import IcftError  # noqa: E402

__all__ = ["IcftError", "__version__"]
