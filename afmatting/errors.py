"""Exceptions raised for bad user input. Every message names the offending thing."""


class AFMattingError(ValueError):
    """Base class for all input errors raised by afmatting."""


class ImageReadError(AFMattingError):
    """An image file could not be read or decoded (missing, empty, corrupt, not an image)."""


class InvalidImageError(AFMattingError):
    """An image was read but has an unsupported shape, dtype, range or size."""


class InvalidTrimapError(AFMattingError):
    """A trimap does not look like a trimap or does not match its image."""


class CheckpointError(AFMattingError):
    """A checkpoint is missing, not safetensors, or does not match the model configuration."""


class DatasetError(AFMattingError):
    """A matting dataset or dataset folder is unusable: unknown layout, empty folder, a file that is not an image,
    an image without its partner alpha/trimap (or the reverse), sizes that differ, or a missing split/column."""


class InvalidSizeError(AFMattingError):
    """A size option (``max_side``, a pixel limit, a crop size) has a value that cannot work."""


class MissingDependencyError(AFMattingError):
    """An optional dependency needed for the requested feature is not installed (the message names the extra)."""


class OnnxModelError(AFMattingError):
    """An ONNX file is missing, corrupt, not an afmatting export, or failed its parity check against PyTorch."""


class ModelConfigError(CheckpointError):
    """A model configuration (config.json or constructor arguments) has a bad type, range or key; names the key."""


class ModelOutputError(AFMattingError):
    """A model produced an unusable output (NaN or infinite alpha); names the model."""


class TrainingConfigError(AFMattingError):
    """A training or fine-tuning run cannot start: a config key with a bad value, a split or checkpoint that is not
    there, too few images for one batch, or fine-tuning inputs that cannot train (no trimaps, no unknown band)."""
