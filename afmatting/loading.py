"""Loading a model by name: the one loader of the Python API, the CLI and the app.

``load_model(name)`` turns a name into a network:

* an ``.onnx`` file -> :class:`~afmatting.onnx_model.OnnxMattingModel` (run by onnxruntime);
* a bundled name, a local folder or a Hugging Face Hub id -> :class:`~afmatting.model.AFMatting` (what each name
  means, and how loading fails, is :mod:`afmatting.hub`'s policy). A Hub id that is neither cached nor reachable
  fails at once.

``load_matter(name)`` adds the pairing: a :class:`Matter` holds the network and, for a trimap-free network that has
one (:func:`partner_of`: a tuned second stage saved with it by ``afmatting finetune``, else
:data:`afmatting.bundled.TRIMAP_PARTNERS`), the trimap model its two-stage path hands the automatic trimap to.
``Matter.predict`` is :func:`afmatting.inference.predict` with both.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .bundled import trimap_partner
from .hub import cached_or_reachable, default_model, resolve_source
from .inference import predict
from .model import AFMatting
from .onnx_model import OnnxMattingModel, is_onnx_path

__all__ = ["Matter", "load_model", "load_matter", "partner_of"]


def load_model(name, device: str | torch.device | None = None):
    """The network called ``name`` (see the module doc), in eval mode, on ``device`` (default the CPU).

    Raises:
        CheckpointError / OnnxModelError: naming the model, when it cannot be found, read or trusted.
    """
    if is_onnx_path(name):
        return OnnxMattingModel(name, device=device)
    source = resolve_source(name)  # a bundled name or a checked local folder (Path), else a Hub id (str)
    # a Hub id that can load now: its cached snapshot, or the id when the Hub answers (else an error at once)
    model = AFMatting.from_pretrained(cached_or_reachable(source) if isinstance(source, str) else name)
    model.name_or_path = str(name).strip()
    if device is not None:
        model.to(device)
    return model.eval()


@dataclass
class Matter:
    """A matting pipeline: the network that mattes and, for a trimap-free network, the trimap model of its
    two-stage path (None: the network alone).

    Attributes:
        model: an :class:`~afmatting.model.AFMatting` or :class:`~afmatting.onnx_model.OnnxMattingModel`.
        trimap_model: a trimap-input network, or None.
    """

    model: object
    trimap_model: object | None = None

    @property
    def trimap_input(self) -> bool:
        """Whether this pipeline takes a trimap (its network does)."""
        return bool(self.model.trimap_input)

    def predict(self, image, trimap=None, **kwargs):
        """Matte one image or a list of them: :func:`afmatting.inference.predict` with this pipeline's models (the
        two-stage path by default when it has a trimap model; ``two_stage=False`` for the network alone)."""
        return predict(self.model, image, trimap, trimap_model=self.trimap_model, **kwargs)


def partner_of(name, model) -> str | None:
    """The trimap model (a name :func:`load_model` loads) that the two-stage path of the trimap-free network
    ``model``, loaded from ``name``, hands its automatic trimap to; None for a trimap model or a network without one.

    In this order: the tuned second stage that ``afmatting finetune`` saved with the model (its folder's
    ``trimap-model``, named in ``finetune.json``); the bundled partner of ``name``
    (:data:`afmatting.bundled.TRIMAP_PARTNERS`); the bundled partner of the bundled model it was tuned from.
    """
    if model.trimap_input:
        return None
    tuned = getattr(model, "tuned_trimap_model", None)
    if tuned is not None:
        return str(tuned)
    return trimap_partner(name) or trimap_partner(getattr(model, "finetuned_from", None))


def load_matter(name=None, *, trimap: bool = False, device: str | torch.device | None = None) -> Matter:
    """The pipeline of model ``name`` (None: the bundled default, the trimap model when ``trimap``, else the
    trimap-free one), with its trimap partner (:func:`partner_of`) loaded when it has one."""
    name = default_model(trimap) if name is None else name
    model = load_model(name, device)
    partner = partner_of(name, model)
    return Matter(model, load_model(partner, device) if partner is not None else None)
