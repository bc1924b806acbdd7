"""The app's command line: ``python app.py [--model DIR_OR_HUB_ID] ...`` parses, builds and serves the app."""

from __future__ import annotations

import argparse
import logging
import os

from ..errors import AFMattingError
from ..processing import DEFAULT_MAX_SIDE, max_side_argument
from .config import DemoConfig
from .models import NO_MODEL_MESSAGE
from .ui import build_demo, launch_kwargs

log = logging.getLogger("afmatting.app")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="app.py",
        description="The afmatting web demo. Host and port: GRADIO_SERVER_NAME / GRADIO_SERVER_PORT "
                    "(or --host / --port).",
    )
    p.add_argument("--model", help="model for photos (directory, Hub id, bundled name or .onnx file); "
                                    "env AFMATTING_MODEL. A trimap-input model here serves trimap requests.")
    p.add_argument("--trimap-model", help="trimap-input model for photos with a trimap; env AFMATTING_TRIMAP_MODEL")
    p.add_argument("--host", default=None, help="default: GRADIO_SERVER_NAME or 127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default: GRADIO_SERVER_PORT or 7860")
    p.add_argument("--max-side", type=max_side_argument, default=argparse.SUPPRESS,
                   help=f"network resolution: long side in pixels, or 'full' (default {DEFAULT_MAX_SIDE})")
    p.add_argument("--concurrency", type=int, default=None, help="matting requests run at once (default 1)")
    p.add_argument("--device", default=None, help="torch device, e.g. cuda")
    p.add_argument("--share", action="store_true", help="also create a public gradio.live link (needs internet)")
    p.add_argument("--allow-custom-models", action="store_true", default=None,
                   help="let visitors type any local model folder or Hub id into the model box (off by default: "
                        "only bundled models and --model / --trimap-model are served); env "
                        "AFMATTING_ALLOW_CUSTOM_MODELS=1")
    return p


def main(argv=None) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up requests are not news
    args = build_parser().parse_args(argv)
    try:
        config = DemoConfig.from_env(model=args.model, trimap_model=args.trimap_model,
                                     concurrency=args.concurrency, device=args.device,
                                     allow_custom_models=args.allow_custom_models)
        if "max_side" in args:  # given on the command line: a number, or None for full resolution
            config.max_side = args.max_side
        demo = build_demo(config)
    except AFMattingError as e:
        print(f"error: {e}", flush=True)
        return 2
    if not demo.afm_service.store.any_model:
        log.warning(NO_MODEL_MESSAGE)
    # None lets Gradio read GRADIO_SERVER_NAME / GRADIO_SERVER_PORT itself
    demo.launch(server_name=args.host, server_port=args.port, share=args.share or None, **launch_kwargs(config))
    return 0
