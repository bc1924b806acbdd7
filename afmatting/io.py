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
        except MemoryError:
            raise
        except Exception as e:  # a mutated header makes Pillow's plugins raise ValueError, TypeError, struct.error...
            raise ImageReadError(f"Cannot read {what} {name}: the file is corrupt ({type(e).__name__}: {e}).") \
                from None
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
    except MemoryError:
        raise
    except Exception as e:  # OSError, SyntaxError, ValueError, TypeError, struct.error... from a plugin's decoder
        raise ImageReadError(f"Cannot decode {what} {name}: the file is corrupt or truncated "
                             f"({type(e).__name__}: {e}).") from None
    return img


#: the EXIF tag of the orientation
EXIF_ORIENTATION = 0x0112
#: EXIF orientations that swap width and height (rotations by 90 or 270 degrees, transposes)
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}


def image_size(path, what: str = "image") -> tuple[int, int]:
    """(width, height) of an image file as :func:`load_image` returns it (EXIF orientation applied), read from the
    header without decoding the pixels. Raises ImageReadError for a missing or unreadable file."""
    name = describe(path)
    try:
        with Image.open(path) as img:
            width, height = img.size
            # Pillow's TIFF reader already reports (and decodes) the oriented size; other formats leave it to EXIF
            orientation = 1 if img.format == "TIFF" else img.getexif().get(EXIF_ORIENTATION, 1)
    except FileNotFoundError:
        raise ImageReadError(f"Cannot read {what} {name}: no such file.") from None
    except MemoryError:
        raise
    except Exception as e:  # corrupt headers raise OSError, SyntaxError, ValueError, TypeError... from Pillow
        raise ImageReadError(f"Cannot read {what} {name}: not a readable image ({type(e).__name__}: {e}).") from None
    return (height, width) if orientation in _SWAPPING_ORIENTATIONS else (width, height)


#: float pixels this far outside [0, 1] are rounding overshoot (resampling, colour conversion) and are clipped;
#: further out the image is refused: a float image's range is [0, 1] by its dtype, never guessed from its maximum
FLOAT_RANGE_TOLERANCE = 0.01


def float_to_unit(arr: np.ndarray, name: str = "image") -> np.ndarray:
    """Finite float array -> float32 clipped to [0, 1]; InvalidImageError when values lie further than
    FLOAT_RANGE_TOLERANCE outside [0, 1] (a float image on the 0..255 scale is refused, not divided: one pixel at
    1.0001 must not make the whole image 255 times darker)."""
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -FLOAT_RANGE_TOLERANCE or hi > 1.0 + FLOAT_RANGE_TOLERANCE:
        hint = " (on the 0..255 scale? divide by 255 first)" if 0 <= lo and hi <= 255 else ""
        raise InvalidImageError(f"{name} has float values in [{lo:.4g}, {hi:.4g}]; expected [0, 1] for a float "
                                f"image{hint}.")
    return np.clip(arr, 0.0, 1.0).astype(np.float32, copy=False)


def pil_to_array(img: Image.Image, name: str = "image") -> np.ndarray:
    """Convert any PIL mode to a float array (H, W, C) in [0, 1], C in {1, 3, 4}.

    16-bit and 32-bit modes keep their precision; palette and CMYK images are converted to RGB(A). A float image
    (mode F, e.g. a float TIFF) with NaN or infinite pixels is refused (InvalidImageError naming ``name``).
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
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        if bad:
            raise InvalidImageError(f"The {name} has {bad} NaN or infinite pixel values; pixels must be finite.")
        return float_to_unit(arr, name)[..., None]
    if mode in ("1", "L"):
        return (np.asarray(img.convert("L"), dtype=np.float32) / 255.0)[..., None]
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode not in ("RGB", "RGBA", "LA"):
        img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX ...
    arr = np.asarray(img, dtype=np.float32)
    arr /= 255.0  # in place: one float copy of the image at a time
    return arr


def array_to_float(arr: np.ndarray, name: str = "image") -> np.ndarray:
    """Validate an array image and return float32 (H, W, C) in [0, 1].

    uint8 is divided by 255, uint16 by 65535, bool maps to {0, 1}; float must already lie in [0, 1] (see
    :func:`float_to_unit`: the range comes from the dtype, never from the values).
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
        return float_to_unit(out, name)
    if np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise InvalidImageError(f"{name} has integer values in [{lo}, {hi}]; expected 0..255 (or uint16).")
        return arr.astype(np.float32) / 255.0
    raise InvalidImageError(f"{name} has unsupported dtype {arr.dtype}.")


#: a (H, W, 3) matte whose colour channels differ by more than this (on the 0..1 scale) is a colour image
MATTE_GREY_TOLERANCE = 0.1


def _matte_channel(arr: np.ndarray, name: str) -> np.ndarray:
    """(H, W) or (H, W, C) array -> its one matte channel (H, W), same dtype.

    C = 1: that channel. C = 2 / 4 (grey / RGB with an alpha channel): the alpha channel when the colour is all
    zero (a matte stored as transparency), else the colour without it. C = 3: grey stored as RGB: the first channel
    when all are equal, their mean (rounded to the dtype's levels) when they differ by at most MATTE_GREY_TOLERANCE
    (compression noise); a colour image is refused.
    """
    if arr.ndim == 2:
        return arr
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise InvalidImageError(f"{name} has shape {arr.shape}; expected a (H, W) matte (or grey (H, W, C)).")
    if arr.shape[2] in (2, 4):
        colour = arr[..., :-1]
        if not colour.any():
            return arr[..., -1]
        arr = colour
    if arr.shape[2] == 1 or all(np.array_equal(arr[..., 0], arr[..., c]) for c in range(1, arr.shape[2])):
        return arr[..., 0]
    values = arr.astype(np.float64)
    spread = float((values.max(axis=2) - values.min(axis=2)).max())
    full_scale = 65535.0 if arr.dtype == np.uint16 else 255.0 if np.issubdtype(arr.dtype, np.integer) else 1.0
    if spread > MATTE_GREY_TOLERANCE * full_scale:
        raise InvalidImageError(f"{name} has {arr.shape[2]} different colour channels; a matte is grey.")
    mean = values.mean(axis=2)
    # integer sources stay on their own levels (the mean rounded), so one scaling rule serves every dtype
    return mean.astype(arr.dtype) if np.issubdtype(arr.dtype, np.floating) else np.round(mean).astype(arr.dtype)


def _matte_values(arr: np.ndarray, name: str, dtype) -> np.ndarray:
    """(H, W) array of any supported dtype -> ``dtype`` values in [0, 1] (uint8 / 255, uint16 / 65535)."""
    if arr.size == 0:
        raise InvalidImageError(f"{name} has shape {arr.shape}; expected a non-empty (H, W) matte.")
    if arr.dtype == np.uint8:
        return arr.astype(dtype) / dtype(255.0)
    if arr.dtype == np.uint16:
        return arr.astype(dtype) / dtype(65535.0)
    if arr.dtype == np.bool_:
        return arr.astype(dtype)
    if np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(dtype)
        if not np.isfinite(out).all():
            raise InvalidImageError(f"{name} contains NaN or infinite values.")
        lo, hi = float(out.min()), float(out.max())
        if lo < 0.0 or hi > 1.0:
            raise InvalidImageError(f"{name} has values in [{lo:.4g}, {hi:.4g}]; a float matte must lie in [0, 1].")
        return out
    raise InvalidImageError(f"{name} has dtype {arr.dtype}; expected uint8, uint16, bool or float in [0, 1].")


def load_matte(source, *, name: str = "alpha", dtype=np.float64, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Read an alpha matte (or a soft mask) as ``dtype`` (H, W) in [0, 1]: the one reader of mattes.

    ``source``: a path, bytes, PIL image (EXIF orientation applied; 16-bit kept; palettes expanded) or an array
    (H, W) / (H, W, C) of uint8 (/ 255), uint16 (/ 65535), bool or float in [0, 1]. Channels: see
    :func:`_matte_channel` (grey stored as RGB(A) is accepted, a matte stored as transparency is read from its alpha
    channel, a colour image is refused). ``dtype=np.float32`` gives MATLAB's ``single(x) / 255`` exactly.
    """
    label = f"{name} {describe(source)}"
    if isinstance(source, np.ndarray):
        arr = source
    else:
        img = open_pil(source, max_pixels=max_pixels, what=name)
        if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
            return pil_to_array(img, name=label)[..., 0].astype(dtype)  # already scaled to [0, 1]
        if img.mode == "P":
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        elif img.mode not in ("1", "L", "LA", "RGB", "RGBA"):
            img = img.convert("RGB")
        arr = np.asarray(img.convert("L") if img.mode == "1" else img)
    return _matte_values(_matte_channel(np.asarray(arr), label), label, dtype)


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
    return to_rgb(pil_to_array(img, name=f"image {describe(source)}"))


def list_images(paths, recursive: bool = False) -> list[Path]:
    """Expand files, folders and glob patterns into a sorted list of image files (folders: by extension).

    An existing path is always literal ('photo[1].png' is that file, not a pattern matching 'photo1.png')."""
    import glob

    out: list[Path] = []
    for p in paths:
        p = os.fspath(p)
        if Path(p).is_file():  # an existing file is taken literally, even when its name has glob characters
            out.append(Path(p))
        elif any(ch in p for ch in "*?[") and not Path(p).exists():
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
