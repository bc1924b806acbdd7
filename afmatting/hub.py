"""Model card template for ``save_pretrained`` / ``push_to_hub`` (rendered by huggingface_hub's ModelCard)."""

MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

# AFMatting model ({{ backbone }}, {{ "trimap-input" if trimap_input else "trimap-free" }})

An image-matting model from [afmatting]({{ repo_url }}): a `{{ backbone }}` backbone (timm) with a ViTMatte-style
detail-capture decoder, {{ num_parameters }} parameters.
{% if trimap_input %}It takes an RGB image **and a trimap** (0 = background, 128 = unknown, 255 = foreground) and
predicts the alpha matte; known trimap pixels are copied into the output.{% else %}It takes an **RGB image only**
(trimap-free) and predicts the alpha matte.{% endif %}

The method follows *Training Matting Models without Alpha Labels* (Liu et al., AAAI 2025, {{ paper_url }}):
models are trained from coarse trimaps with a known-region L1 loss and the directional distance consistency (DDC)
loss, without fine alpha labels.

## Usage

```python
from afmatting import AFMatting

model = AFMatting.from_pretrained("path/or/repo-id")
result = model.predict("photo.jpg"{% if trimap_input %}, trimap="trimap.png"{% endif %})
result.alpha            # float32 (H, W) in [0, 1]
result.cutout().save("cutout.png")
```

Command line: `afmatting matte photo.jpg --model path/or/repo-id --out out/{% if trimap_input %} --trimap trimap.png{% endif %}`

## Training
{{ training if training else "Not recorded for this checkpoint." }}

## Results
{{ metrics if metrics else "No evaluation recorded for this checkpoint." }}

## Limitations
{{ limitations if limitations else "Matting quality depends on the training data; check results on your images." }}

## Citation

```bibtex
@inproceedings{liu2025alphafree,
  title     = {Training Matting Models without Alpha Labels},
  author    = {Liu, Wenze and Ye, Zixuan and Lu, Hao and Cao, Zhiguo and Yue, Xiangyu},
  booktitle = {AAAI},
  year      = {2025}
}
```
"""
