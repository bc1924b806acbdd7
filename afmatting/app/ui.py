"""The Gradio UI: the Blocks layout, its event handlers, and how input errors reach the user."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from ..errors import AFMattingError
from .config import ASSETS_DIR, EXAMPLE_PHOTOS, DemoConfig
from .inputs import BRUSH_COLOURS, UNPAINTED_CHOICES, parse_colour
from .models import AUTO
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
    """The Gradio event handlers (callable directly, e.g. in tests). Input errors become gr.Error."""

    def __init__(self, service: MattingService):
        self.service = service

    def matte(self, photo, model_choice, trimap_file, editor_value, unpainted, colour, bg_image, max_side,
              refine_steps=0):
        """The Matte button: slider, alpha, cut-out, composite, trimap used, 3 downloads, result state."""
        import gradio as gr

        service = self.service
        with user_errors(photo, trimap_file, bg_image):
            trimap = service.painted_or_uploaded_trimap(photo, trimap_file, editor_value, unpainted)
            # the slider's number (None when a client leaves it out: the configured resolution)
            max_side = CONFIGURED if max_side is None else int(max_side)
            result = service.matte(photo, trimap, model_choice=model_choice, max_side=max_side,
                                   refine_steps=refine_steps)
            background = bg_image if bg_image else parse_colour(colour)
            paths = service.save(result, background)
        used = paths.get("trimap")
        return (
            (photo, paths["composite"]),
            paths["alpha"],
            paths["cutout"],
            paths["composite"],
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
            return gr.skip(), gr.skip(), gr.skip()
        with user_errors(bg_image):
            path = self.service.composite(result, colour, bg_image)
        return (photo, path), path, gr.update(value=path, interactive=True)

    def api(self, image, trimap):
        """/matte: (image path, trimap path or None) -> (alpha PNG path, RGBA cut-out PNG path)."""
        with user_errors(image, trimap):
            return self.service.api_matte(image, trimap)

    @staticmethod
    def photo(photo):
        """A new photo goes into the trimap painter with empty layers (old strokes belong to the old photo)."""
        if not photo:
            return None
        return {"background": photo, "layers": [], "composite": photo}


CSS = """
#afm-title {text-align: center}
.afm-legend span {display: inline-block; padding: 0 .5em; border-radius: 4px; color: white; font-weight: 600}
#afm-colour .dialog-button {border: 1px solid var(--border-color-primary)}
"""


def build_demo(config: DemoConfig | None = None, service: MattingService | None = None):
    """The Gradio Blocks app. Raises CheckpointError when a model named in ``config`` cannot be loaded."""
    import gradio as gr

    config = config or (service.config if service else DemoConfig.from_env())
    service = service or MattingService(config)
    service.store.setup()
    store = service.store
    fg, unk, bg = BRUSH_COLOURS

    handlers = Handlers(service)

    with gr.Blocks(title="afmatting — alpha matting without alpha labels", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            "# afmatting: cut out anything\n"
            "Upload a photo and get its **alpha matte**, an **RGBA cut-out** and the subject on a **new "
            "background**. The models were trained without any alpha labels (Liu et al., AAAI 2025). Results are "
            "lossless PNG.",
            elem_id="afm-title",
        )
        status = gr.Markdown(store.status_markdown(), elem_id="afm-status")
        result_state = gr.State(None, time_to_live=3600)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                photo = gr.Image(label="Photo", type="filepath", image_mode=None, format="png",
                                 sources=["upload", "clipboard"], height=360, elem_id="afm-photo")
                model_box = gr.Dropdown(
                    choices=store.choices(), value=AUTO, allow_custom_value=config.allow_custom_models,
                    label="Model", elem_id="afm-model",
                    info="a bundled model, a local model folder or a Hugging Face Hub id",
                )
                with gr.Accordion("Trimap (for trimap-input models)", open=False, elem_id="afm-trimap-panel"):
                    gr.Markdown(
                        f"Paint on the photo: <span class='afm-legend'><span style='background:{fg}'>green = "
                        f"foreground</span> <span style='background:{unk}'>blue = unknown (hair, fur, soft edges)"
                        f"</span> <span style='background:{bg}'>red = background</span></span>. "
                        "Or upload a trimap (black 0 = background, grey 128 = unknown, white 255 = foreground; the "
                        "photo's size). An uploaded trimap wins over painting."
                    )
                    with gr.Tabs():
                        with gr.Tab("Paint"):
                            editor = gr.ImageEditor(
                                label="Paint the trimap", type="numpy", image_mode="RGBA", format="png",
                                sources=(), transforms=(), height=420, elem_id="afm-editor",
                                brush=gr.Brush(colors=list(BRUSH_COLOURS), default_color=fg, color_mode="fixed"),
                                layers=gr.LayerOptions(layers=["strokes"], allow_additional_layers=True),
                            )
                            unpainted = gr.Radio(
                                list(UNPAINTED_CHOICES), value="background", label="Unpainted pixels are",
                                info="background: paint the subject (green) and its edge (blue); "
                                     "unknown: scribbles are enough",
                            )
                        with gr.Tab("Upload"):
                            trimap_file = gr.Image(label="Trimap", type="filepath", image_mode=None, format="png",
                                                   sources=["upload"], height=300, elem_id="afm-trimap-upload")
                with gr.Accordion("Background", open=True):
                    with gr.Row():
                        colour = gr.ColorPicker(value="#ffffff", label="Colour", elem_id="afm-colour")
                        bg_image = gr.Image(label="…or a background photo", type="filepath", image_mode=None,
                                            format="png", sources=["upload"], height=160)
                with gr.Accordion("Advanced", open=False):
                    max_side = gr.Slider(256, 2048, value=config.max_side or 2048, step=64, label="Network resolution",
                                         info="long side the network sees; the matte is always full size")
                    refine = gr.Slider(0, 400, value=0, step=50, label="Refinement steps (with a trimap)",
                                       info="after the network, optimise the matte under the paper's DDC loss on "
                                            "this photo: sharper edges, slower (at 100: about 20 s for an 800-px photo "
                                            "on a 2-core CPU; more is not better: 400 scored worse than 100)",
                                       elem_id="afm-refine")
                run = gr.Button("Matte", variant="primary", elem_id="afm-run")
                examples = [str(ASSETS_DIR / n) for n in EXAMPLE_PHOTOS if (ASSETS_DIR / n).exists()]
                if examples:
                    gr.Examples([[p] for p in examples], inputs=[photo], label="Example photos (CC0 / public domain)")
            with gr.Column(scale=1):
                slider = gr.ImageSlider(label="Before / after", type="filepath", format="png", elem_id="afm-slider",
                                        max_height=520)
                with gr.Row():
                    alpha_out = gr.Image(label="Alpha matte", type="filepath", format="png", interactive=False,
                                         elem_id="afm-alpha")
                    cutout_out = gr.Image(label="Cut-out (RGBA)", type="filepath", format="png", interactive=False,
                                          elem_id="afm-cutout")
                with gr.Row():
                    composite_out = gr.Image(label="Composite", type="filepath", format="png", interactive=False,
                                             elem_id="afm-composite")
                    trimap_out = gr.Image(label="Trimap used", type="filepath", format="png", interactive=False,
                                          visible=False, elem_id="afm-trimap-used")
                with gr.Row():
                    dl_alpha = gr.DownloadButton("Alpha PNG", interactive=False, elem_id="afm-dl-alpha")
                    dl_cutout = gr.DownloadButton("Cut-out PNG", interactive=False, elem_id="afm-dl-cutout")
                    dl_composite = gr.DownloadButton("Composite PNG", interactive=False, elem_id="afm-dl-composite")

        # the API: plain files in, PNG files out (hidden components; the endpoint is what matters)
        with gr.Row(visible=False):
            api_image = gr.File(label="image", type="filepath")
            api_trimap = gr.File(label="trimap (optional)", type="filepath")
            api_alpha = gr.File(label="alpha PNG")
            api_cutout = gr.File(label="RGBA cut-out PNG")
            api_button = gr.Button("matte")

        # UI and API share one concurrency group: the network runs at most `concurrency` times at once
        run.click(
            handlers.matte,
            [photo, model_box, trimap_file, editor, unpainted, colour, bg_image, max_side, refine],
            [slider, alpha_out, cutout_out, composite_out, trimap_out, dl_alpha, dl_cutout, dl_composite,
             result_state],
            api_name="matte_ui", api_visibility="private", concurrency_id="network",
        )
        api_button.click(handlers.api, [api_image, api_trimap], [api_alpha, api_cutout], api_name="matte",
                         concurrency_id="network",
                         api_description="Matte a photo: (image, optional trimap) -> (alpha PNG, RGBA cut-out PNG).")
        gr.on([colour.change, bg_image.change], handlers.background, [result_state, photo, colour, bg_image],
              [slider, composite_out, dl_composite], api_name="recomposite", api_visibility="private",
              concurrency_limit=4, show_progress="minimal")
        photo.change(handlers.photo, photo, editor, api_name="photo_to_painter", api_visibility="private",
                     concurrency_limit=4, show_progress="hidden")
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

