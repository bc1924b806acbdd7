"""The Gradio UI: the Blocks layout, its event handlers, and how input errors reach the user."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from ..errors import AFMattingError
from ..io import image_size
from .collect import add_finetune_controls
from .config import ASSETS_DIR, EXAMPLES, MAX_REQUEST_SIDE, DemoConfig
from .inputs import BRUSH_COLOURS, UNPAINTED_CHOICES, parse_colour
from .models import AUTO
from .painter import brush_radius, tinted_photo
from .service import CONFIGURED, MattingService

log = logging.getLogger("afmatting.app")


def _friendly(e: Exception, *paths) -> str:
    """The error's message, with Gradio's upload folders cut from file names."""
    msg = str(e)
    for p in paths:
        if p and isinstance(p, (str, os.PathLike)):
            msg = msg.replace(str(p), Path(str(p)).name)
    return msg


@contextlib.contextmanager
def user_errors(*paths):
    """Turn input errors into gr.Error (shown to the user); log anything unexpected, and report it briefly."""
    import gradio as gr

    try:
        yield
    except gr.Error:
        raise
    except (AFMattingError, OSError) as e:
        raise gr.Error(_friendly(e, *paths), title="Cannot matte this input", print_exception=False) from None
    except Exception as e:  # a bug must not take the server down; the log keeps the traceback
        log.exception("unexpected error in a request")
        raise gr.Error(f"Unexpected error ({type(e).__name__}: {e}).", title="Internal error") from None


class Handlers:
    """The Gradio event handlers (callable directly, e.g. in tests). Input errors become gr.Error.

    ``progress`` arguments take a ``gr.Progress`` (or any ``progress(fraction, desc=...)`` callable)."""

    def __init__(self, service: MattingService):
        self.service = service

    def matte(self, photo, model_choice, editor_value, base_trimap, unpainted, colour, bg_image, max_side,
              refine=True, progress=None):
        """The Matte button: slider, cut-out, alpha, trimap used, 3 downloads, result state."""
        import gradio as gr

        service = self.service
        with user_errors(photo, bg_image):
            trimap = service.painter_trimap(photo, editor_value, base_trimap, unpainted)
            # the slider's number (None when a client leaves it out: the configured resolution)
            max_side = CONFIGURED if max_side is None else int(max_side)
            result = service.matte(photo, trimap, model_choice=model_choice, max_side=max_side,
                                   refine=bool(refine), progress=_stages(progress))
            background = bg_image if bg_image else parse_colour(colour)
            paths = service.save(result, background)
        used = paths.get("trimap")
        return (
            (photo, paths["composite"]),
            paths["cutout"],
            paths["alpha"],
            gr.update(value=used, visible=used is not None),
            gr.update(value=paths["alpha"], interactive=True),
            gr.update(value=paths["cutout"], interactive=True),
            gr.update(value=paths["composite"], interactive=True),
            result,
        )

    def background(self, result, photo, colour, bg_image):
        """A new colour or background photo: recomposite the last result without running the network again."""
        import gradio as gr

        if result is None:  # nothing matted yet: the colour is used by the next run
            return gr.skip(), gr.skip()
        with user_errors(bg_image):
            path = self.service.composite(result, colour, bg_image)
        return (photo, path), gr.update(value=path, interactive=True)

    def api(self, image, trimap=None, refine=True, max_side=None, model=AUTO, background=None, progress=None):
        """/matte: (image, trimap or None, refine, max_side, model, background colour) -> (alpha PNG, cut-out PNG,
        or the composite on ``background`` when one is given)."""
        with user_errors(image, trimap):
            return self.service.api_matte(image, trimap, refine=refine, max_side=max_side, model=model,
                                          background=background, progress=_stages(progress))

    # --- the trimap painter: its value, and the base trimap (automatic or uploaded) kept in a State ---

    def _painter(self, photo, base=None):
        """The editor's new value, with a brush sized to the photo, and the new base trimap."""
        import gradio as gr

        if not photo:
            return gr.update(value=None), None
        service = self.service
        width, height = image_size(photo, "photo")
        background = photo
        if base is not None:
            d = service.outputs.new()
            background = str(d / "painter.png")
            tinted_photo(service.read_photo(photo), base).save(background)
        radius = brush_radius(width, height)
        editor = gr.update(value={"background": background, "layers": [], "composite": background},
                           brush=_brush(radius), eraser=gr.Eraser(default_size=radius))
        return editor, base

    def new_photo(self, photo):
        """A new photo: the painter shows it with no strokes and no base trimap; an uploaded trimap is dropped."""
        with user_errors(photo):
            editor, base = self._painter(photo)
        return editor, base, None

    def auto_trimap(self, photo, max_side, progress=None):
        """The Auto trimap button: the painter starts from the automatic trimap, for the user to correct."""
        with user_errors(photo):
            if not photo:
                raise AFMattingError("Upload a photo first, then press Auto trimap.")
            side = CONFIGURED if max_side is None else int(max_side)
            base = self.service.automatic_trimap(photo, max_side=side, progress=_stages(progress))
            return self._painter(photo, base)

    def uploaded_trimap(self, photo, trimap_file):
        """A trimap file (uploaded, or an example's): the painter starts from it."""
        if not trimap_file:
            return self._painter(photo)
        with user_errors(photo, trimap_file):
            if not photo:
                raise AFMattingError("Upload the photo first, then its trimap.")
            return self._painter(photo, self.service.uploaded_trimap(trimap_file, photo))

    def clear_trimap(self, photo):
        """The Clear button: no strokes, no base trimap, no uploaded file."""
        with user_errors(photo):
            editor, base = self._painter(photo)
        return editor, base, None


def _stages(progress):
    """A service progress callback ``(fraction, stage)`` feeding a ``gr.Progress`` (None: no progress)."""
    if progress is None:
        return None

    def report(fraction: float, stage: str) -> None:
        progress(fraction, desc=stage)

    return report


def _brush(radius: int | str = "auto"):
    import gradio as gr

    return gr.Brush(colors=list(BRUSH_COLOURS), default_color=next(iter(BRUSH_COLOURS)), color_mode="fixed",
                    default_size=radius)


CSS = """
#afm-title {text-align: center}
#afm-title p {margin: 0}
.afm-legend {display: flex; flex-wrap: wrap; gap: .4em; align-items: center}
.afm-legend span {display: inline-block; padding: .1em .6em; border-radius: 4px; color: white; font-weight: 600}
/* transparency shows as a checkerboard, so a cut-out's holes and haze are visible */
#afm-cutout img, #afm-cutout canvas {
  background: repeating-conic-gradient(#c8c8c8 0 25%, #ffffff 0 50%) 50% / 20px 20px;
}
#afm-run {min-height: 3em; font-size: 1.1em}
/* the colour picker's swatch is a visible, labelled button, not a white 40 px dash on white */
#afm-colour .dialog-button {width: 100%; height: 2.2em; border: 1px solid var(--border-color-primary);
  border-radius: var(--radius-sm)}
/* the painter's three swatches carry their class's name */
#afm-editor menu.swatch {display: flex; flex-direction: column; gap: 4px; width: auto}
#afm-editor menu.swatch button.color {width: auto; min-width: 6.5em; height: 1.9em; border-radius: 4px;
  color: white; font-weight: 600; font-size: 12px; padding: 0 .5em}
#afm-editor menu.swatch button.color:nth-child(1)::after {content: "Foreground"}
#afm-editor menu.swatch button.color:nth-child(2)::after {content: "Unknown"}
#afm-editor menu.swatch button.color:nth-child(3)::after {content: "Background"}
/* phone width: photo and Matte button first, then the results, then the painter */
@media (max-width: 768px) {
  #afm-results-col {order: 2}
  #afm-painter-col {order: 3}
}
"""


def _legend() -> str:
    fg, unk, bg = BRUSH_COLOURS
    return (
        f"<div class='afm-legend'><b>Trimap</b> (optional, sharper edges): "
        f"<span style='background:{fg}'>Foreground</span>"
        f"<span style='background:{unk}'>Unknown (hair, fur, soft edges)</span>"
        f"<span style='background:{bg}'>Background</span></div>"
    )


def build_demo(config: DemoConfig | None = None, service: MattingService | None = None):
    """The Gradio Blocks app. Raises CheckpointError when a model named in ``config`` cannot be loaded."""
    import gradio as gr

    config = config or (service.config if service else DemoConfig.from_env())
    service = service or MattingService(config)
    service.store.setup()
    store = service.store

    handlers = Handlers(service)

    with gr.Blocks(title="afmatting — alpha matting without alpha labels", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            "# afmatting: cut out anything\n"
            "Upload a photo and press **Matte**: alpha matte, RGBA cut-out and a new background, as lossless PNG. "
            "For sharper edges, press **Auto trimap** and correct it with the brushes (or paint one). The models "
            "were trained without alpha labels (Liu et al., AAAI 2025).",
            elem_id="afm-title",
        )
        status = gr.Markdown(store.status_markdown(), elem_id="afm-status")
        result_state = gr.State(None, time_to_live=3600)
        base_trimap = gr.State(None, time_to_live=3600)  # the automatic or uploaded trimap under the strokes
        with gr.Row(equal_height=False, elem_id="afm-main"):
            with gr.Column(scale=1, min_width=300, elem_id="afm-photo-col"):
                photo = gr.Image(label="Photo", type="filepath", image_mode=None, format="png",
                                 sources=["upload", "clipboard"], height=320, elem_id="afm-photo")
                with gr.Row():
                    run = gr.Button("Matte", variant="primary", elem_id="afm-run", scale=2)
                    refine = gr.Checkbox(value=True, label="Refine (recommended)", elem_id="afm-refine", scale=1,
                                         info="sharper edges with a trimap")
                with gr.Row():
                    colour = gr.ColorPicker(value="#ffffff", label="Background colour", elem_id="afm-colour",
                                            min_width=120)
                    bg_image = gr.Image(label="…or background photo", type="filepath", image_mode=None,
                                        format="png", sources=["upload"], height=120, min_width=120,
                                        elem_id="afm-bg-image")
                with gr.Accordion("Model and resolution", open=False):
                    model_box = gr.Dropdown(
                        choices=store.choices(), value=AUTO, allow_custom_value=config.allow_custom_models,
                        label="Model", elem_id="afm-model", info=store.auto_info(),
                    )
                    max_side = gr.Slider(256, MAX_REQUEST_SIDE, value=config.max_side or MAX_REQUEST_SIDE, step=64,
                                         label="Network resolution",
                                         info="long side the network sees; the matte is always full size")
                examples = [[str(ASSETS_DIR / photo_name), str(ASSETS_DIR / trimap_name) if trimap_name else None]
                            for photo_name, trimap_name in EXAMPLES if (ASSETS_DIR / photo_name).exists()]
            with gr.Column(scale=1, min_width=300, elem_id="afm-painter-col"):
                gr.HTML(_legend(), elem_id="afm-legend")
                with gr.Row():
                    auto_button = gr.Button("Auto trimap", elem_id="afm-auto-trimap", size="sm")
                    clear_button = gr.Button("Clear trimap", elem_id="afm-clear-trimap", size="sm")
                editor = gr.ImageEditor(
                    label="Trimap painter", type="numpy", image_mode="RGBA", format="png",
                    sources=(), transforms=(), height=420, elem_id="afm-editor",
                    brush=_brush(), eraser=gr.Eraser(),
                    layers=gr.LayerOptions(layers=["corrections"], allow_additional_layers=False),
                )
                with gr.Accordion("Painting options and trimap upload", open=False):
                    gr.Markdown(
                        "After **Auto trimap** (or an upload) your strokes correct it, and the eraser gives the "
                        "automatic label back. Without one, paint the subject green and its edge blue. An uploaded "
                        "trimap: black 0 = background, grey 128 = unknown, white 255 = foreground, the photo's size."
                    )
                    unpainted = gr.Radio(
                        list(UNPAINTED_CHOICES), value="background", label="Unpainted pixels are (no base trimap)",
                        info="background: paint the subject and its edge; unknown: scribbles (less sharp)",
                    )
                    trimap_file = gr.Image(label="Trimap file", type="filepath", image_mode=None, format="png",
                                           sources=["upload"], height=200, elem_id="afm-trimap-upload")
                add_finetune_controls(service, photo, editor, base_trimap, unpainted)
            with gr.Column(scale=1, min_width=300, elem_id="afm-results-col"):
                slider = gr.ImageSlider(label="Before / after (drag)", type="filepath", format="png",
                                        elem_id="afm-slider", max_height=420)
                with gr.Row():
                    cutout_out = gr.Image(label="Cut-out", type="filepath", format="png",
                                          interactive=False, elem_id="afm-cutout", height=220, min_width=140)
                    alpha_out = gr.Image(label="Alpha", type="filepath", format="png", interactive=False,
                                         elem_id="afm-alpha", height=220, min_width=140)
                trimap_out = gr.Image(label="Trimap used", type="filepath", format="png", interactive=False,
                                      visible=False, elem_id="afm-trimap-used", height=160)
                with gr.Row():
                    dl_cutout = gr.DownloadButton("Cut-out PNG", interactive=False, elem_id="afm-dl-cutout",
                                                  size="sm")
                    dl_alpha = gr.DownloadButton("Alpha PNG", interactive=False, elem_id="afm-dl-alpha", size="sm")
                    dl_composite = gr.DownloadButton("Composite PNG", interactive=False, elem_id="afm-dl-composite",
                                                     size="sm")
        if examples:
            gr.Examples(examples, inputs=[photo, trimap_file], outputs=[editor, base_trimap],
                        fn=handlers.uploaded_trimap, run_on_click=True, cache_examples=False,
                        label="Examples (CC0 / public domain; the first comes with a trimap)",
                        example_labels=[Path(p).stem for p, _ in examples])

        # the API: plain files and values in, PNG files out (hidden components; the endpoint is what matters)
        with gr.Row(visible=False):
            api_image = gr.File(label="image", type="filepath")
            api_trimap = gr.File(label="trimap (optional)", type="filepath")
            api_refine = gr.Checkbox(value=True, label="refine")
            api_max_side = gr.Number(value=None, label="max_side (empty or 0: the app's setting)", precision=0)
            api_model = gr.Textbox(value=AUTO, label="model")
            api_background = gr.Textbox(value="", label="background colour (empty: transparent cut-out)")
            api_alpha = gr.File(label="alpha PNG")
            api_cutout = gr.File(label="RGBA cut-out PNG (or the composite on the background colour)")
            api_button = gr.Button("matte")

        # Gradio passes a live progress tracker to a handler argument whose default is gr.Progress()
        def matte_ui(photo, model_choice, editor_value, base, unpainted, colour, bg_image, max_side, refine,
                     progress=gr.Progress()):
            return handlers.matte(photo, model_choice, editor_value, base, unpainted, colour, bg_image, max_side,
                                  refine, progress=progress)

        def matte_api(image, trimap=None, refine=True, max_side=None, model=AUTO, background="",
                      progress=gr.Progress()):
            return handlers.api(image, trimap, refine, max_side, model, background, progress=progress)

        def auto_trimap_ui(photo, max_side, progress=gr.Progress()):
            return handlers.auto_trimap(photo, max_side, progress=progress)

        # UI and API share one concurrency group: the network runs at most `concurrency` times at once
        run.click(
            matte_ui,
            [photo, model_box, editor, base_trimap, unpainted, colour, bg_image, max_side, refine],
            [slider, cutout_out, alpha_out, trimap_out, dl_alpha, dl_cutout, dl_composite, result_state],
            api_name="matte_ui", api_visibility="private", concurrency_id="network",
        )
        api_button.click(matte_api, [api_image, api_trimap, api_refine, api_max_side, api_model, api_background],
                         [api_alpha, api_cutout], api_name="matte", concurrency_id="network",
                         api_description="Matte a photo: (image, optional trimap, refine, max_side, model, "
                                         "background colour) -> (alpha PNG, RGBA cut-out PNG or the composite on "
                                         "the background colour).")
        auto_button.click(auto_trimap_ui, [photo, max_side], [editor, base_trimap], api_name="auto_trimap",
                          api_visibility="private", concurrency_id="network")
        clear_button.click(handlers.clear_trimap, photo, [editor, base_trimap, trimap_file], api_name="clear_trimap",
                           api_visibility="private", concurrency_limit=4, show_progress="hidden")
        trimap_file.upload(handlers.uploaded_trimap, [photo, trimap_file], [editor, base_trimap],
                           api_name="trimap_to_painter", api_visibility="private", concurrency_limit=4)
        gr.on([colour.change, bg_image.change], handlers.background, [result_state, photo, colour, bg_image],
              [slider, dl_composite], api_name="recomposite", api_visibility="private",
              concurrency_limit=4, show_progress="minimal")
        # .upload / .clear, not .change: an example sets the photo and its trimap together (handled above)
        gr.on([photo.upload, photo.clear], handlers.new_photo, photo, [editor, base_trimap, trimap_file],
              api_name="photo_to_painter", api_visibility="private", concurrency_limit=4, show_progress="hidden")
        demo.load(store.status_markdown, None, status, api_name="status", api_visibility="private")
    demo.queue(default_concurrency_limit=max(1, config.concurrency), max_size=32)
    demo.afm_service = service  # for tests and embedding
    return demo


def launch_kwargs(config: DemoConfig) -> dict:
    """Arguments for ``demo.launch`` shared by app.py and the tests."""
    import gradio as gr

    return dict(
        theme=gr.themes.Soft(),
        css=CSS,
        allowed_paths=[str(ASSETS_DIR)],
        max_file_size=os.environ.get("AFMATTING_MAX_FILE_SIZE", "100mb"),
        show_error=True,
    )

