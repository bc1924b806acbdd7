"""The Gradio app: upload a photo, get its alpha matte, an RGBA cut-out and a new background.

``build_demo(config)`` returns the Blocks app; ``main()`` parses the command line and serves it. The repository's
``app.py`` and the Hugging Face Space's ``app.py`` are both thin launchers of ``main()``, so there is one app.

Models. ``--model`` / ``AFMATTING_MODEL`` and ``--trimap-model`` / ``AFMATTING_TRIMAP_MODEL`` name a local
directory, a Hub id or a bundled name. Without them the bundled models serve: the trimap-free one for a photo
alone, the trimap-input one when a trimap is given. When no model at all is available the app still starts, says
so at the top of the page, and every matte request answers with the same message; a model typed into the model box
(a local folder or a Hub id) still works. A model named explicitly on the command line that cannot be loaded stops
the app at startup instead, since that is a mistake in the command.
An exported ``.onnx`` file also serves as a model wherever one is named (run by onnxruntime).

Painted trimaps. The trimap painter has three fixed brush colours: green = foreground, blue = unknown, red =
background. Every painted pixel (on any layer; upper layers win) takes the class of the nearest of those colours;
unpainted pixels are background by default (paint the subject and its edge) or unknown (only scribble), as chosen.
An uploaded trimap wins over a painted one.

All matting goes through :func:`afmatting.inference.predict`; outputs are written as PNG (never webp, which would
destroy the alpha).

Modules, one concern each: ``config`` (what the app serves), ``models`` (which model serves a request),
``inputs`` (painted trimaps and colours), ``service`` (the Gradio-free matting service), ``ui`` (the Gradio Blocks
and handlers), ``command`` (the command line). Gradio is imported only when the UI is built.
"""

from .command import build_parser, main
from .config import ASSETS_DIR, DEFAULT_MAX_PIXELS, EXAMPLE_PHOTOS, DemoConfig
from .inputs import BRUSH_COLOURS, PAINT_MIN_ALPHA, UNPAINTED_CHOICES, parse_colour, trimap_from_layers
from .models import AUTO, NO_MODEL_MESSAGE, ModelStore
from .service import MattingService, OutputDir
from .ui import CSS, Handlers, build_demo, launch_kwargs, user_errors

__all__ = [
    "ASSETS_DIR", "AUTO", "BRUSH_COLOURS", "CSS", "DEFAULT_MAX_PIXELS", "EXAMPLE_PHOTOS", "NO_MODEL_MESSAGE",
    "PAINT_MIN_ALPHA", "UNPAINTED_CHOICES", "DemoConfig", "Handlers", "MattingService", "ModelStore", "OutputDir",
    "build_demo", "build_parser", "launch_kwargs", "main", "parse_colour", "trimap_from_layers",
    "user_errors",
]
