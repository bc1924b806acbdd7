"""The Gradio app: upload a photo, get its alpha matte, an RGBA cut-out and a new background.

``build_demo(config)`` returns the Blocks app; ``main()`` parses the command line and serves it. The repository's
``app.py`` and the Hugging Face Space's ``app.py`` are both thin launchers of ``main()``, so there is one app.

Models. ``--model`` / ``AFMATTING_MODEL`` and ``--trimap-model`` / ``AFMATTING_TRIMAP_MODEL`` name a local
directory, a Hub id or a bundled name. Without them the bundled models serve: the trimap-free one for a photo
alone (through :mod:`afmatting.two_stage`, predict's default for it: the network picks the subject, an automatic
trimap and the trimap model finish the edges), the trimap-input one when a trimap is given. The model box offers only those (an allow-list): a visitor
cannot make the server load an arbitrary folder or Hub repository, whose config and weights could exhaust it.
``--allow-custom-models`` / ``AFMATTING_ALLOW_CUSTOM_MODELS=1`` opts in to typed folders and Hub ids (a private,
trusted deployment). When no model at all is available the app still starts, says so at the top of the page, and
every matte request answers with the same message. A model named explicitly on the command line that cannot be
loaded stops the app at startup instead, since that is a mistake in the command.
An exported ``.onnx`` file also serves as a model wherever one is named (run by onnxruntime).

Choosing the subject. Clicks on the photo (on the subject, or off it) select it with the bundled MobileSAM
(:mod:`afmatting.prompt_segment`); each click redraws the selection, and Matte runs ``predict(clicks=...)``.

Brushes. After a matte the painter shows the trimap that matte was made from (the automatic trimap of the very path
Matte ran), as a tint over the photo, with three fixed brush colours: green = keep, blue = soft edge, red = remove.
Strokes change it only where painted, the eraser gives the automatic label back, and Matte again uses the corrected
trimap. Strokes without a matte to correct are refused; unpainted pixels never become background. An uploaded
trimap (or an example's) is shown the same way. See :mod:`afmatting.app.painter`.

Progress. The service reports real stages (reading, network, each refinement level, foreground colours, writing)
to a callback; the UI feeds them into ``gr.Progress``.

The network runs through :func:`afmatting.inference.predict` (``refine=False``) and the service then refines with
:func:`afmatting.refine.refine_alpha`, the very call ``predict`` makes, so that each level reports progress: the
app's matte equals ``predict``'s. Outputs are written as PNG (never webp, which would destroy the alpha).

Modules, one concern each: ``config`` (what the app serves), ``models`` (which model serves a request),
``inputs`` (painted layers and colours), ``painter`` (the painter's and the selection's pictures, and the
painted trimap), ``auto`` (the automatic trimap of a network's matte), ``service`` (the Gradio-free matting service), ``ui`` (the Gradio Blocks
and handlers), ``command`` (the command line). Gradio is imported only when the UI is built.
"""

from .command import build_parser, main
from .auto import trimap_from_matte
from .config import ASSETS_DIR, DEFAULT_MAX_PIXELS, EXAMPLE_PHOTOS, EXAMPLES, DemoConfig
from .inputs import (BRUSH_COLOURS, PAINT_MIN_ALPHA, UNPAINTED_CHOICES, painted_classes, parse_colour,
                     trimap_from_layers)
from .models import AUTO, NO_MODEL_MESSAGE, ModelStore
from .painter import brush_radius, painted_trimap, tinted_photo
from .service import MattingService, OutputDir
from .ui import CSS, Handlers, build_demo, launch_kwargs, user_errors

__all__ = [
    "ASSETS_DIR", "AUTO", "BRUSH_COLOURS", "CSS", "DEFAULT_MAX_PIXELS", "EXAMPLES", "EXAMPLE_PHOTOS",
    "NO_MODEL_MESSAGE", "PAINT_MIN_ALPHA", "UNPAINTED_CHOICES", "DemoConfig", "Handlers", "MattingService",
    "ModelStore", "OutputDir", "brush_radius", "build_demo", "build_parser", "launch_kwargs",
    "main", "painted_classes", "painted_trimap", "parse_colour", "tinted_photo", "trimap_from_layers",
    "trimap_from_matte", "user_errors",
]
