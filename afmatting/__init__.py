"""afmatting: train image-matting models without alpha labels (known + DDC losses, Liu et al., AAAI 2025)."""

from .errors import AFMattingError, CheckpointError, ImageReadError, InvalidImageError, InvalidTrimapError
from .inference import predict
from .loading import Matter, load_matter, load_model
from .model import AFMatting
from .result import MattingResult

__version__ = "0.1.0"

__all__ = [
    "AFMatting",
    "MattingResult",
    "predict",
    "load_model",
    "load_matter",
    "Matter",
    "AFMattingError",
    "CheckpointError",
    "ImageReadError",
    "InvalidImageError",
    "InvalidTrimapError",
]
