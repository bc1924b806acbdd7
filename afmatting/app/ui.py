"""The Gradio UI: the Blocks layout, its event handlers, and how input errors reach the user."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import numpy as np

from ..errors import AFMattingError
from ..io import image_size
from ..processing import to_uint8
from .collect import add_finetune_controls
from .config import ASSETS_DIR, EXAMPLES, MAX_REQUEST_SIDE, DemoConfig
from .inputs import BRUSH_COLOURS, parse_colour
from .models import AUTO
from .auto import trimap_from_matte
from .painter import brush_radius, guess_previews, tinted_photo
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
        raise gr.Error("Something went wrong on our side while matting this photo (the details are in the server's "
                       "log). Please try again, or try another photo.", title="Internal error") from None


class Handlers:
    """The Gradio event handlers (callable directly, e.g. in tests). Input errors become gr.Error.

    ``progress`` arguments take a ``gr.Progress`` (or any ``progress(fraction, desc=...)`` callable). The painter's
    base trimap is kept in a State as ``{"trimap": uint8 (H, W), "source": "matte" | "upload"}``."""

    def __init__(self, service: MattingService):
        self.service = service

    def matte(self, photo, model_choice, editor_value, base, background_kind, colour, bg_image, max_side,
              refine=True, clicks=None, progress=None):
        """The Matte button -> (cut-out, before/after, alpha, composite, 3 downloads, result state, painter, its
        base, the painter's accordion, status line, the guesses' choice, their state, their thumbnails' gallery).

        Which path runs: strokes on the painter (or an uploaded trimap) -> the trimap they mean, over the base
        trimap; otherwise the subject the clicks select, or the automatic subject. An automatic or clicked matte
        becomes the painter's new base (its trimap), so the brushes correct exactly what Matte did.
        """
        import gradio as gr

        service = self.service
        with user_errors(photo, bg_image):
            base_trimap = (base or {}).get("trimap")
            trimap = service.painter_trimap(photo, editor_value, base_trimap)
            if trimap is not None and (base or {}).get("source") == "matte" and np.array_equal(trimap, base_trimap):
                trimap = None  # nothing painted over an automatic base: run the path again (clicks may have changed)
            # the slider's number (None when a client leaves it out: the configured resolution)
            max_side = CONFIGURED if max_side is None else int(max_side)
            background = _background(background_kind, colour, bg_image)  # a missing choice is said before matting
            # strokes over a Matte's own trimap: that matte's second stage reruns with them (only the painted part
            # changes); its prior rides along in the base
            prior = (base or {}).get("prior") if trimap is not None and (base or {}).get("source") == "matte" else None
            corrects = ((base["alpha"], base_trimap) if prior is not None and base.get("alpha") is not None
                        else None)  # that matte: kept away from the strokes
            result = service.matte(photo, trimap, model_choice=model_choice, max_side=max_side,
                                   refine=bool(refine), clicks=clicks or None, prior=prior, corrects=corrects,
                                   progress=_stages(progress))
            paths = service.save(result, background)
        how = ("your brush strokes" if trimap is not None and not np.array_equal(trimap, base_trimap) else
               "the uploaded trimap" if trimap is not None else
               f"your {len(clicks)} click{'s' if len(clicks) > 1 else ''}" if clicks else "automatic subject")
        guesses = result.extra.get("guesses")
        outputs = self._result_outputs(photo, result, paths, new_base=trimap is None, how=how,
                                       guessed=bool(guesses))
        if guesses:  # the automatic path: the user may start from one network's matte instead
            return (*outputs, gr.update(choices=[AUTOMATIC, *guesses], value=AUTOMATIC, visible=True),
                    {"automatic": result, "mattes": guesses},
                    gr.update(value=self._previews(photo, result, guesses), selected_index=0, visible=True))
        if trimap is None:  # a new subject (clicks, or a model without guesses): the old guesses no longer apply
            return (*outputs, gr.update(visible=False, value=None), None, gr.update(visible=False, value=None))
        return (*outputs, gr.skip(), gr.skip(), gr.skip())  # brush corrections: the guesses stay for this photo

    def _previews(self, photo, result, guesses) -> list:
        """The guesses' thumbnails for the gallery over the choice: ``[(png path, caption), ...]``, the automatic
        result first, in the order of the choice's options; the caption is the network's short name (the choice
        below spells it out)."""
        captions = ["Vote"] + [label.split("(")[-1].rstrip(")") if "(" in label else label for label in guesses]
        pictures = guess_previews(photo, [result.alpha, *guesses.values()])
        folder = self.service.outputs.new()
        paths = []
        for k, picture in enumerate(pictures):
            paths.append(str(folder / f"guess{k}.png"))
            picture.save(paths[-1])
        return list(zip(paths, captions))

    def pick_guess(self, guesses, index):
        """A click on the ``index``-th thumbnail of the guesses' gallery -> the choice's option it shows (None:
        nothing to pick)."""
        if not guesses or index is None:
            return None
        labels = [AUTOMATIC, *guesses["mattes"]]
        return labels[index] if 0 <= index < len(labels) else None

    def _result_outputs(self, photo, result, paths, *, new_base: bool, how: str, guessed: bool = False) -> tuple:
        """(cut-out, before/after, alpha, composite, 3 downloads, result state, painter, its base, the painter's
        accordion, status line) for a new result; ``new_base``: the result's trimap becomes the brushes' base (or,
        for a network alone, the automatic trimap of its matte); ``guessed``: the photo has guesses to offer."""
        import gradio as gr

        if new_base:
            automatic = result.trimap if result.trimap is not None else trimap_from_matte(result.alpha)
            editor, base = self._painter(photo, automatic, "matte", result.extra.get("prior"), to_uint8(result.alpha))
        else:
            editor, base = gr.skip(), gr.skip()
        composite = paths.get("composite")
        return (
            paths["cutout"],
            (photo, paths["cutout"]),
            paths["alpha"],
            gr.update(value=composite, visible=composite is not None),
            gr.update(value=paths["cutout"], interactive=True),
            gr.update(value=paths["alpha"], interactive=True),
            gr.update(value=composite, interactive=composite is not None),
            result,
            editor,
            base,
            gr.update(visible=True),
            f"Done ({how}). Not right? " + ("Try another network's guess below, click" if guessed else "Click")
            + " the subject on the photo, or fix the edges with the brushes.",
        )

    def guess(self, photo, choice, guesses, background_kind, colour, bg_image, max_side, refine=True,
              progress=None):
        """A choice among the automatic result's first-stage guesses -> the first twelve outputs of :meth:`matte`,
        then the guesses' gallery with that guess selected: the second stage from that network's matte (AUTOMATIC:
        the automatic result again, at once)."""
        import gradio as gr

        if not guesses or not choice:
            return (gr.skip(),) * 13
        with user_errors(photo, bg_image):
            background = _background(background_kind, colour, bg_image)
            if choice == AUTOMATIC:
                result = guesses["automatic"]
            else:
                if choice not in guesses["mattes"]:
                    raise AFMattingError(f"There is no guess called '{choice}' for this photo: press Matte again.")
                max_side = CONFIGURED if max_side is None else int(max_side)
                result = self.service.matte_guess(photo, guesses["mattes"][choice], max_side=max_side,
                                                  refine=bool(refine), progress=_stages(progress))
            paths = self.service.save(result, background)
        how = ("automatic subject" if choice == AUTOMATIC else
               f"starting from the {choice.split(' (')[0].lower()}'s guess")
        shown = gr.update(selected_index=[AUTOMATIC, *guesses["mattes"]].index(choice))  # the gallery follows
        return (*self._result_outputs(photo, result, paths, new_base=True, how=how, guessed=True), shown)

    def background(self, result, background_kind, colour, bg_image):
        """A new background choice: recomposite the last result without running the network again."""
        import gradio as gr

        if result is None:  # nothing matted yet: the choice is used by the next run
            return gr.skip(), gr.skip()
        with user_errors(bg_image):
            background = _background(background_kind, colour, bg_image)
            if background is None:
                return gr.update(value=None, visible=False), gr.update(value=None, interactive=False)
            path = self.service.composite(result, colour if background_kind == "Colour" else None,
                                          bg_image if background_kind == "Photo" else None)
        return gr.update(value=path, visible=True), gr.update(value=path, interactive=True)

    def api(self, image, trimap=None, refine=True, max_side=None, model=AUTO, background=None, progress=None):
        """/matte: (image, trimap or None, refine, max_side, model, background colour) -> (alpha PNG, cut-out PNG,
        or the composite on ``background`` when one is given)."""
        with user_errors(image, trimap):
            return self.service.api_matte(image, trimap, refine=refine, max_side=max_side, model=model,
                                          background=background, progress=_stages(progress))

    # --- choosing the subject by clicks on the photo ---

    def click(self, photo, clicks, kind, evt=None):
        """A click on the selection view at ``evt.index`` = (x, y) photo pixels: add it, show the new selection."""
        with user_errors(photo):
            if not photo:
                raise AFMattingError("Upload a photo first, then click on the subject.")
            x, y = (int(round(v)) for v in evt.index[:2])
            clicks = list(clicks or []) + [(x, y, 0 if kind == NOT_SUBJECT else 1)]
            return self.service.selection_preview(photo, clicks), clicks, _clicks_note(clicks)

    def undo_click(self, photo, clicks):
        clicks = list(clicks or [])[:-1]
        with user_errors(photo):
            return (self.service.selection_preview(photo, clicks) if photo else None), clicks, _clicks_note(clicks)

    # --- the photo and the trimap painter ---

    def _painter(self, photo, trimap=None, source="matte", prior=None, alpha=None):
        """The editor's new value (the photo tinted by ``trimap``, a brush sized to the photo) and the new base
        (``{"trimap", "source"}``, and ``"prior"`` / ``"alpha"``: the second stage's prior and the matte (uint8) of
        the Matte that made the trimap)."""
        import gradio as gr

        if not photo:
            return gr.update(value=None), None
        service = self.service
        width, height = image_size(photo, "photo")
        background = photo
        if trimap is not None:
            background = str(service.outputs.new() / "painter.png")
            tinted_photo(service.read_photo(photo), trimap).save(background)
        radius = brush_radius(width, height)
        editor = gr.update(value={"background": background, "layers": [], "composite": background},
                           brush=_brush(radius), eraser=gr.Eraser(default_size=radius))
        base = None if trimap is None else {"trimap": trimap, "source": source}
        if base is not None and prior is not None:
            base["prior"] = prior
            if alpha is not None:
                base["alpha"] = alpha
        return editor, base

    def new_photo(self, photo):
        """A new photo (or none): checked at once; clicks, painter and uploaded trimap start afresh; the selection
        view shows the photo. An unusable photo is refused here, with the reason, and removed."""
        import gradio as gr

        if photo:
            try:
                with user_errors(photo):
                    self.service.check_photo(photo)
            except gr.Error as e:
                gr.Warning(e.message, title="Cannot use this photo")
                photo = None
                return (None, None, gr.update(visible=False), [], _clicks_note([]), gr.update(value=None), None,
                        None, gr.update(visible=False))
        with user_errors(photo):
            editor, base = self._painter(photo)
        return (gr.skip(), photo or None, gr.update(visible=bool(photo)), [], _clicks_note([]), editor, base, None,
                gr.update(visible=False))

    def example(self, photo, trimap_file):
        """An example (a photo, and maybe its trimap): like a new photo; a trimap becomes the painter's base."""
        outputs = list(self.new_photo(photo))
        if trimap_file and photo:
            import gradio as gr

            with user_errors(photo, trimap_file):
                outputs[5], outputs[6] = self._painter(photo, self.service.uploaded_trimap(trimap_file, photo),
                                                       "upload")
            outputs[8] = gr.update(visible=True, open=True)
        return tuple(outputs)

    def uploaded_trimap(self, photo, trimap_file):
        """A trimap file: the painter starts from it (and Matte uses it)."""
        if not trimap_file:
            return self._painter(photo)
        with user_errors(photo, trimap_file):
            if not photo:
                raise AFMattingError("Upload the photo first, then its trimap.")
            return self._painter(photo, self.service.uploaded_trimap(trimap_file, photo), "upload")

    def clear_strokes(self, photo, base):
        """The painter's Undo-all: the strokes go, the base stays."""
        with user_errors(photo):
            editor, base = self._painter(photo, (base or {}).get("trimap"), (base or {}).get("source", "matte"),
                                         (base or {}).get("prior"), (base or {}).get("alpha"))
        return editor, base


#: the selection's click kinds
SUBJECT, NOT_SUBJECT = "Subject", "Not the subject"
#: the first choice among the automatic result's guesses: the automatic path's own answer
AUTOMATIC = "Automatic (the networks' vote)"
#: the background choices of the result's last tab
BACKGROUND_KINDS = ("Colour", "Photo")


def _clicks_note(clicks) -> str:
    if not clicks:
        return "Optional: click the subject to choose it (otherwise it is found automatically)."
    on = sum(1 for *_, label in clicks if label)
    return f"{on} click{'s' if on != 1 else ''} on the subject, {len(clicks) - on} off it. Press **Matte**."


def _background(kind, colour, bg_image):
    """The composite's background for a UI choice: an RGB tuple, a photo path, or None (not asked for)."""
    if kind == "Photo":
        if not bg_image:
            raise AFMattingError("Choose a background photo, or pick 'Colour'.")
        return bg_image
    if kind == "Colour":
        return parse_colour(colour)
    return None


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
#afm-editor menu.swatch button.color:nth-child(1)::after {content: "Keep"}
#afm-editor menu.swatch button.color:nth-child(2)::after {content: "Soft edge"}
#afm-editor menu.swatch button.color:nth-child(3)::after {content: "Remove"}
/* the one progress bar, under the Matte button */
#afm-progress {min-height: 2.5em}
#afm-selection img {cursor: crosshair}
/* phone width: a shorter photo box, so that the Matte button and its progress stay on the first screen */
@media (max-width: 768px) {
  #afm-photo {height: 200px}
  /* once a photo is in, the selection view below shows it: the upload box shrinks to a strip (its clear button
     still there to change the photo), so the photo is not shown twice */
  #afm-photo-col:has(#afm-selection img) #afm-photo {height: 56px !important; min-height: 0; overflow: hidden}
  #afm-title h1 {font-size: 1.5em; margin: .2em 0}
}
"""


def _legend() -> str:
    fg, unk, bg = BRUSH_COLOURS
    return (
        f"<div class='afm-legend'>Paint over mistakes, then press <b>Matte</b> again: "
        f"<span style='background:{fg}'>Keep</span>"
        f"<span style='background:{unk}'>Soft edge (hair, fur)</span>"
        f"<span style='background:{bg}'>Remove</span> The eraser gives the automatic choice back.</div>"
    )


def photo_input(max_pixels: int, **kwargs):
    """A gr.Image for the photo whose upload check speaks to the user: a file that is not an image, or too large,
    is refused with a sentence instead of Gradio's internal 'Could not preprocess input' error and server path."""
    import gradio as gr

    class PhotoInput(gr.Image):
        def get_block_name(self) -> str:
            return "image"  # the front end of gr.Image

        def preprocess(self, payload):
            if payload is not None and getattr(payload, "path", None):
                try:
                    width, height = image_size(payload.path, "photo")
                except AFMattingError:
                    raise gr.Error(f"'{payload.orig_name or 'This file'}' is not a photo this app can read: upload a "
                                   f"JPEG, PNG or WebP image.", title="Cannot use this file") from None
                if width * height > max_pixels:
                    raise gr.Error(f"This photo is too large: {width * height / 1e6:.1f} megapixels, and this app "
                                   f"takes up to {max_pixels / 1e6:.1f}. Please upload a smaller version.",
                                   title="Photo too large")
            try:
                return super().preprocess(payload)
            except gr.Error:
                raise
            except Exception:
                raise gr.Error("This file could not be read as a photo: upload a JPEG, PNG or WebP image.",
                               title="Cannot use this file") from None

    return PhotoInput(**kwargs)


INTRO = ("# Cut out anything\n"
         "Upload a photo and press **Matte** to cut out its subject. If it picks the wrong thing, click on what you "
         "want in the photo first.")

SCROLL_TO_RESULT = "() => document.getElementById('afm-results-col')?.scrollIntoView({behavior: 'smooth'})"


def build_demo(config: DemoConfig | None = None, service: MattingService | None = None):
    """The Gradio Blocks app. Raises CheckpointError when a model named in ``config`` cannot be loaded."""
    import gradio as gr

    config = config or (service.config if service else DemoConfig.from_env())
    service = service or MattingService(config)
    service.store.setup()
    store = service.store

    handlers = Handlers(service)

    with gr.Blocks(title="afmatting: cut out anything", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO, elem_id="afm-title")
        # shown only when something is wrong (no model installed); the models in use are named under Advanced
        status = gr.Markdown(store.status_markdown() if not store.any_model else "", elem_id="afm-status")
        result_state = gr.State(None, time_to_live=3600)
        guesses_state = gr.State(None, time_to_live=3600)  # the automatic result and its first-stage guesses
        base_trimap = gr.State(None, time_to_live=3600)  # the trimap under the brush strokes, and where it came from
        clicks = gr.State([], time_to_live=3600)
        with gr.Row(equal_height=False, elem_id="afm-main"):
            with gr.Column(scale=1, min_width=300, elem_id="afm-photo-col"):
                photo = photo_input(config.max_pixels, label="Photo", type="filepath", image_mode=None,
                                    format="png", sources=["upload", "clipboard"], height=260, elem_id="afm-photo")
                examples = [[str(ASSETS_DIR / photo_name), str(ASSETS_DIR / trimap_name) if trimap_name else None]
                            for photo_name, trimap_name in EXAMPLES if (ASSETS_DIR / photo_name).exists()]
                example_slot = gr.Column(elem_id="afm-examples")
                with gr.Column(visible=False, elem_id="afm-select-box") as select_box:
                    selection = gr.Image(label="Click the subject (optional)", type="filepath", interactive=False,
                                         height=300, elem_id="afm-selection", buttons=[])
                    with gr.Row(elem_id="afm-click-row"):
                        click_kind = gr.Radio([SUBJECT, NOT_SUBJECT], value=SUBJECT, label="A click marks",
                                              elem_id="afm-click-kind", scale=2)
                        undo = gr.Button("Undo click", size="sm", elem_id="afm-undo-click", scale=1)
                    clicks_note = gr.Markdown(_clicks_note([]), elem_id="afm-clicks-note")
                run = gr.Button("Matte", variant="primary", elem_id="afm-run")
                status_line = gr.Markdown("", elem_id="afm-progress")
                guess_views = gr.Gallery(visible=False, elem_id="afm-guess-views", columns=4, rows=1, height=150,
                                         allow_preview=False, object_fit="contain", show_label=False,
                                         interactive=False, buttons=[])
                guess = gr.Radio([], value=None, visible=False, elem_id="afm-guess",
                                 label="Wrong subject? Start from one network's guess",
                                 info="Each network found a subject on its own (shown above: click one); the "
                                      "automatic result is their vote.")
                with gr.Accordion("Advanced", open=False, elem_id="afm-advanced"):
                    model_box = gr.Dropdown(
                        choices=store.choices(), value=AUTO, allow_custom_value=config.allow_custom_models,
                        label="Model", elem_id="afm-model", info=store.auto_info(),
                    )
                    max_side = gr.Slider(256, MAX_REQUEST_SIDE, value=config.max_side or MAX_REQUEST_SIDE, step=64,
                                         label="Detail (network resolution)",
                                         info="The long side, in pixels, at which the network looks at the photo; "
                                              "the result always has the photo's size. Higher finds finer detail "
                                              "but sees less of the scene at once and is slower; "
                                              f"{config.max_side or 'full'} suits most photos.")
                    refine = gr.Checkbox(value=True, label="Refine the edges", elem_id="afm-refine",
                                         info="A second pass on the photo's colours that sharpens hair and soft "
                                              "edges (about a second per megapixel). Off: the network's matte as "
                                              "it is.")
            with gr.Column(scale=1, min_width=300, elem_id="afm-results-col"):
                with gr.Tabs(elem_id="afm-tabs"):
                    with gr.Tab("Cut-out", id="cutout"):
                        cutout_out = gr.Image(label="Cut-out", type="filepath",
                                              format="png", interactive=False, elem_id="afm-cutout", height=420)
                    with gr.Tab("Compare", id="slider"):
                        slider = gr.ImageSlider(label="Before / after (drag)", type="filepath", format="png",
                                                elem_id="afm-slider", max_height=420)
                    with gr.Tab("Alpha", id="alpha"):
                        alpha_out = gr.Image(label="Alpha (white = subject)", type="filepath", format="png",
                                             interactive=False, elem_id="afm-alpha", height=420)
                    with gr.Tab("Background", id="background"):
                        background_kind = gr.Radio(list(BACKGROUND_KINDS), value=None, label="Background",
                                                   elem_id="afm-bg-kind")
                        with gr.Row():
                            colour = gr.ColorPicker(value="#ffffff", label="Colour", elem_id="afm-colour",
                                                    min_width=120, visible=False)
                            bg_image = gr.Image(label="Background photo", type="filepath", image_mode=None,
                                                format="png", sources=["upload"], height=160, min_width=160,
                                                elem_id="afm-bg-image", visible=False)
                        composite_out = gr.Image(label="On the new background", type="filepath", format="png",
                                                 interactive=False, visible=False, elem_id="afm-composite",
                                                 height=360)
                with gr.Row():
                    dl_cutout = gr.DownloadButton("Download cut-out", interactive=False, elem_id="afm-dl-cutout",
                                                  size="sm")
                    dl_alpha = gr.DownloadButton("Download alpha", interactive=False, elem_id="afm-dl-alpha",
                                                 size="sm")
                    dl_composite = gr.DownloadButton("Download with background", interactive=False,
                                                     elem_id="afm-dl-composite", size="sm")
                with gr.Accordion("Fix the edges with a brush", open=True, visible=False,
                                  elem_id="afm-painter") as painter_box:
                    gr.HTML(_legend(), elem_id="afm-legend")
                    editor = gr.ImageEditor(
                        label="Brushes", type="numpy", image_mode="RGBA", format="png",
                        sources=(), transforms=(), height=420, elem_id="afm-editor",
                        brush=_brush(), eraser=gr.Eraser(),
                        layers=gr.LayerOptions(layers=["corrections"], allow_additional_layers=False),
                    )
                    clear_button = gr.Button("Remove all strokes", elem_id="afm-clear-strokes", size="sm")
                    with gr.Accordion("Upload a trimap instead", open=False):
                        gr.Markdown("A trimap is a grey picture of the photo's size: black = background, white = "
                                    "subject, grey = the edge to work out. Matte then uses it.")
                        trimap_file = gr.Image(label="Trimap file", type="filepath", image_mode=None, format="png",
                                               sources=["upload"], height=200, elem_id="afm-trimap-upload")
                    add_finetune_controls(service, photo, editor, base_trimap)
        if examples:
            with example_slot:
                gr.Examples(examples, inputs=[photo, trimap_file],
                            outputs=[photo, selection, select_box, clicks, clicks_note, editor, base_trimap,
                                     trimap_file, painter_box],
                            fn=handlers.example, run_on_click=True, cache_examples=False, label="Or try one",
                            example_labels=[_example_label(p, t) for p, t in examples])

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
        def matte_ui(photo, model_choice, editor_value, base, background_kind, colour, bg_image, max_side, refine,
                     clicks, progress=gr.Progress()):
            return handlers.matte(photo, model_choice, editor_value, base, background_kind, colour, bg_image,
                                  max_side, refine, clicks, progress=progress)

        def guess_ui(photo, choice, guesses, background_kind, colour, bg_image, max_side, refine,
                     progress=gr.Progress()):
            return handlers.guess(photo, choice, guesses, background_kind, colour, bg_image, max_side, refine,
                                  progress=progress)

        def matte_api(image, trimap=None, refine=True, max_side=None, model=AUTO, background="",
                      progress=gr.Progress()):
            return handlers.api(image, trimap, refine, max_side, model, background, progress=progress)

        def click_ui(photo, clicks, kind, evt):
            return handlers.click(photo, clicks, kind, evt)

        click_ui.__annotations__["evt"] = gr.SelectData  # a real class: this module's annotations are strings

        # UI and API share one concurrency group: the network runs at most `concurrency` times at once. The one
        # progress bar is the status line under the Matte button (in view on a phone); on success the page
        # scrolls to the result.
        run.click(
            matte_ui,
            [photo, model_box, editor, base_trimap, background_kind, colour, bg_image, max_side, refine, clicks],
            [cutout_out, slider, alpha_out, composite_out, dl_cutout, dl_alpha, dl_composite, result_state, editor,
             base_trimap, painter_box, status_line, guess, guesses_state, guess_views],
            api_name="matte_ui", api_visibility="private", concurrency_id="network",
            show_progress_on=[status_line],
        ).success(None, js=SCROLL_TO_RESULT)
        guess_outputs = [cutout_out, slider, alpha_out, composite_out, dl_cutout, dl_alpha, dl_composite, result_state,
                         editor, base_trimap, painter_box, status_line, guess_views]
        guess.input(guess_ui, [photo, guess, guesses_state, background_kind, colour, bg_image, max_side, refine],
                    guess_outputs, api_name="guess", api_visibility="private", concurrency_id="network",
                    show_progress_on=[status_line])

        def pick_ui(guesses, evt):
            return handlers.pick_guess(guesses, evt.index)

        pick_ui.__annotations__["evt"] = gr.SelectData

        # a click on a thumbnail picks that guess in the choice below it, then runs the choice
        guess_views.select(pick_ui, guesses_state, guess, api_visibility="private", show_progress="hidden").then(
            guess_ui, [photo, guess, guesses_state, background_kind, colour, bg_image, max_side, refine],
            guess_outputs, api_visibility="private", concurrency_id="network", show_progress_on=[status_line])
        api_button.click(matte_api, [api_image, api_trimap, api_refine, api_max_side, api_model, api_background],
                         [api_alpha, api_cutout], api_name="matte", concurrency_id="network",
                         api_description="Matte a photo: (image, optional trimap, refine, max_side, model, "
                                         "background colour) -> (alpha PNG, RGBA cut-out PNG or the composite on "
                                         "the background colour).")
        selection.select(click_ui, [photo, clicks, click_kind], [selection, clicks, clicks_note],
                         api_name="click", api_visibility="private", concurrency_id="network",
                         show_progress="minimal")
        undo.click(handlers.undo_click, [photo, clicks], [selection, clicks, clicks_note], api_name="undo_click",
                   api_visibility="private", concurrency_id="network", show_progress="minimal")
        clear_button.click(handlers.clear_strokes, [photo, base_trimap], [editor, base_trimap],
                           api_name="clear_strokes", api_visibility="private", concurrency_limit=4,
                           show_progress="hidden")
        trimap_file.upload(handlers.uploaded_trimap, [photo, trimap_file], [editor, base_trimap],
                           api_name="trimap_to_painter", api_visibility="private", concurrency_limit=4)
        background_kind.change(lambda kind: (gr.update(visible=kind == "Colour"), gr.update(visible=kind == "Photo")),
                               background_kind, [colour, bg_image], api_visibility="private",
                               show_progress="hidden")
        gr.on([background_kind.change, colour.change, bg_image.change], handlers.background,
              [result_state, background_kind, colour, bg_image], [composite_out, dl_composite],
              api_name="recomposite", api_visibility="private", concurrency_limit=4, show_progress="minimal")
        # .upload / .clear, not .change: an example sets the photo and its trimap together (handled above)
        gr.on([photo.upload, photo.clear], handlers.new_photo, photo,
              [photo, selection, select_box, clicks, clicks_note, editor, base_trimap, trimap_file, painter_box],
              api_name="photo_to_painter", api_visibility="private", concurrency_limit=4, show_progress="hidden")
        # another photo (uploaded, cleared or an example): the last photo's guesses no longer apply
        photo.change(lambda: (gr.update(visible=False, value=None), None, gr.update(visible=False, value=None)), None,
                     [guess, guesses_state, guess_views],
                     api_visibility="private", show_progress="hidden")
        if not store.any_model:
            demo.load(store.status_markdown, None, status, api_name="status", api_visibility="private")
    demo.queue(default_concurrency_limit=max(1, config.concurrency), max_size=32)
    demo.afm_service = service  # for tests and embedding
    return demo


def _example_label(photo: str, trimap: str | None) -> str:
    name = Path(photo).stem.replace("_", " ").capitalize()
    return f"{name} (with a trimap)" if trimap else name


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

