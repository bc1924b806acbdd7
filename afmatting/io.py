"""Reading images from paths, PIL images and arrays into one canonical form.

The canonical image is a float32 numpy array of shape (H, W, 3), RGB, values in [0, 1].
Every reader raises an :class:`~afmatting.errors.AFMattingError` subclass that names the input.
"""

from __future__ import annotations

import io as _io
import os
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageReadError, InvalidImageError

ImageLike = Union[str, os.PathLike, Image.Image, np.ndarray, bytes]

#: Largest image (in pixels) that is decoded at all. Bigger files are refused before decoding.
MAX_IMAGE_PIXELS = 80_000_000

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def describe(source) -> str:
    """A short human-readable name for an input, used in error messages."""
    if isinstance(source, (str, os.PathLike)):
        return f"'{os.fspath(source)}'"
    if isinstance(source, Image.Image):
        return f"PIL image ({source.mode}, {source.width}x{source.height})"
    if isinstance(source, np.ndarray):
        return f"array (shape {source.shape}, dtype {source.dtype})"
    if isinstance(source, (bytes, bytearray)):
        return f"bytes ({len(source)} bytes)"
    return f"object of type {type(source).__name__}"


def open_pil(source, *, max_pixels: int = MAX_IMAGE_PIXELS, what: str = "image") -> Image.Image:
    """Open a path / bytes / PIL image as a fully decoded PIL image with EXIF orientation applied.

    Raises ImageReadError for missing, empty, corrupt or non-image files and InvalidImageError for
    images above ``max_pixels``.
    """
    name = describe(source)
    if isinstance(source, Image.Image):
        img = source
    else:
        if isinstance(source, (bytes, bytearray)):
            fp = _io.BytesIO(source)
            if len(source) == 0:
                raise ImageReadError(f"Cannot read {what} {name}: it is empty (0 bytes).")
        elif isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if not path.exists():
                raise ImageReadError(f"Cannot read {what} {name}: no such file.")
            if path.is_dir():
                raise ImageReadError(f"Cannot read {what} {name}: it is a directory, not an image file.")
            if path.stat().st_size == 0:
                raise ImageReadError(f"Cannot read {what} {name}: the file is empty (0 bytes).")
            fp = path
        else:
            raise ImageReadError(
                f"Cannot read {what} from {name}: expected a file path, PIL image, numpy array or bytes."
            )
        try:
            img = Image.open(fp)
        except UnidentifiedImageError:
            raise ImageReadError(f"Cannot read {what} {name}: not a recognised image format.") from None
        except Image.DecompressionBombError as e:
            raise InvalidImageError(f"The {what} {name} is too large to process ({e}).") from None
        except OSError as e:
            raise ImageReadError(f"Cannot read {what} {name}: {e}.") from None
    if img.width * img.height > max_pixels:
        raise InvalidImageError(
            f"The {what} {name} is too large: {img.width}x{img.height} = {img.width * img.height / 1e6:.1f} MP, "
            f"the limit is {max_pixels / 1e6:.0f} MP. Downscale it first."
        )
    if img.width == 0 or img.height == 0:
        raise InvalidImageError(f"The {what} {name} has zero size ({img.width}x{img.height}).")
    try:
        img.load()  # decode now so truncated files fail here, not later
        img = ImageOps.exif_transpose(img)
    except Image.DecompressionBombError as e:
        raise InvalidImageError(f"The {what} {name} is too large to process ({e}).") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(f"Cannot decode {what} {name}: the file is corrupt or truncated ({e}).") from None
    return img


def pil_to_array(img: Image.Image) -> np.ndarray:
    """Convert any PIL mode to a float array (H, W, C) in [0, 1], C in {1, 3, 4}.

    16-bit and 32-bit modes keep their precision; palette and CMYK images are converted to RGB(A).
    """
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return (np.asarray(img, dtype=np.float32) / 65535.0)[..., None]
    if mode == "I":
        arr = np.asarray(img, dtype=np.float64)
        scale = 65535.0 if arr.max() > 255 else 255.0
        return (np.clip(arr / scale, 0, 1).astype(np.float32))[..., None]
    if mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        if arr.max() > 1.0:
            arr = arr / 255.0
        return np.clip(arr, 0, 1)[..., None]
    if mode in ("1", "L"):
        return (np.asarray(img.convert("L"), dtype=np.float32) / 255.0)[..., None]
    if mode == "LA":
        return np.asarray(img, dtype=np.float32) / 255.0
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode not in ("RGB", "RGBA"):
        img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX ...
    return np.asarray(img, dtype=np.float32) / 255.0


def array_to_float(arr: np.ndarray, name: str = "image") -> np.ndarray:
    """Validate an array image and return float32 (H, W, C) in [0, 1].

    uint8 is divided by 255, uint16 by 65535, bool maps to {0, 1}; float must already lie in [0, 1]
    (float in [0, 255] is accepted and divided by 255).
    """
    if not isinstance(arr, np.ndarray):
        raise InvalidImageError(f"{name} must be a numpy array, got {type(arr).__name__}.")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise InvalidImageError(
            f"{name} has shape {arr.shape}; expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidImageError(f"{name} has zero size {arr.shape[:2]}.")
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32)
        if not np.isfinite(out).all():
            raise InvalidImageError(f"{name} contains NaN or infinite values.")
        lo, hi = float(out.min()), float(out.max())
        if lo < 0 or hi > 255:
            raise InvalidImageError(f"{name} has float values in [{lo:.3g}, {hi:.3g}]; expected [0, 1].")
        if hi > 1.0:
            out = out / 255.0
        return out
    if np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise InvalidImageError(f"{name} has integer values in [{lo}, {hi}]; expected 0..255 (or uint16).")
        return arr.astype(np.float32) / 255.0
    raise InvalidImageError(f"{name} has unsupported dtype {arr.dtype}.")


def matte_to_float(values, name: str = "alpha") -> np.ndarray:
    """A matte as float64 (H, W) in [0, 1]; uint8 is divided by 255, uint16 by 65535, floats must lie in [0, 1].

    A (H, W, C) array is accepted when all its channels are equal (grey stored as RGB); its first channel is used.
    """
    arr = np.asarray(values)
    if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
        if arr.shape[2] > 1 and not np.array_equal(arr[..., 0], arr[..., 1]):
            raise InvalidImageError(f"{name} has {arr.shape[2]} different channels; a matte has one channel.")
        arr = arr[..., 0]
    if arr.ndim != 2 or arr.size == 0:
        raise InvalidImageError(f"{name} has shape {arr.shape}; expected a non-empty (H, W) matte.")
    if arr.dtype == np.uint8:
        return arr.astype(np.float64) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float64) / 65535.0
    if arr.dtype == np.bool_:
        return arr.astype(np.float64)
    if np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float64)
        if not np.isfinite(out).all():
            raise InvalidImageError(f"{name} contains NaN or infinite values.")
        lo, hi = float(out.min()), float(out.max())
        if lo < 0.0 or hi > 1.0:
            raise InvalidImageError(f"{name} has values in [{lo:.4g}, {hi:.4g}]; a float matte must lie in [0, 1].")
        return out
    raise InvalidImageError(f"{name} has dtype {arr.dtype}; expected uint8, uint16 or float in [0, 1].")


def to_rgb(arr: np.ndarray) -> np.ndarray:
    """(H, W, C) float with C in {1, 2, 3, 4} -> (H, W, 3): grey is repeated, an alpha channel is dropped."""
    c = arr.shape[2]
    if c in (1, 2):
        arr = np.repeat(arr[..., :1], 3, axis=2)
    elif c == 4:
        arr = arr[..., :3]
    return np.ascontiguousarray(arr, dtype=np.float32)


def load_image(source: ImageLike, *, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Load any supported image input as float32 RGB (H, W, 3) in [0, 1].

    ``source`` may be a path, bytes, a PIL image or a numpy array (uint8, uint16, bool or float; grey, RGB or
    RGBA). EXIF orientation is applied to files and PIL images. An alpha channel is ignored.
    """
    if isinstance(source, np.ndarray):
        arr = array_to_float(source, name=f"image {describe(source)}")
        if arr.shape[0] * arr.shape[1] > max_pixels:
            raise InvalidImageError(
                f"image {describe(source)} is too large ({arr.shape[0] * arr.shape[1] / 1e6:.1f} MP, "
                f"limit {max_pixels / 1e6:.0f} MP)."
            )
        return to_rgb(arr)
    img = open_pil(source, max_pixels=max_pixels, what="image")
    return to_rgb(pil_to_array(img))


def list_images(paths, recursive: bool = False) -> list[Path]:
    """Expand files, folders and glob patterns into a sorted list of image files (folders: by extension)."""
    import glob

    out: list[Path] = []
    for p in paths:
        p = os.fspath(p)
        if any(ch in p for ch in "*?["):
            matches = sorted(glob.glob(p, recursive=True))
            out.extend(Path(m) for m in matches if Path(m).is_file())
        elif Path(p).is_dir():
            pattern = "**/*" if recursive else "*"
            out.extend(
                sorted(q for q in Path(p).glob(pattern) if q.is_file() and q.suffix.lower() in IMAGE_EXTENSIONS)
            )
        else:
            out.append(Path(p))
    return out
