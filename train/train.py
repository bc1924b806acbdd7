#!/usr/bin/env python
"""Train an AFMatting model, with or without alpha labels.

    accelerate launch train/train.py --config train/configs/am2k_vits_ddc.yaml
    accelerate launch train/train.py --config train/configs/smoke.yaml --max_steps 6 --output_dir runs/a
    python train/train.py --config train/configs/smoke.yaml          # one process, no launcher needed

Every key of the config (see afmatting/training/config.py: DEFAULTS) can be overridden on the command line as
``--key value``; values are parsed as YAML (``--fusion_widths "[64, 32, 16, 8]"``, ``--trimap_input true``).

Supervision (``--loss``):
    known             known loss only (L1 to the trimap on known pixels)
    known+dc          + dc_weight x DC loss
    known+ddc         + ddc_weight x DDC loss (the paper: K = 11, weight 10)
    known+scaled_ddc  + ddc_weight x scaled DDC loss (MatAnyone)
    alpha             fine-label baseline: L1 + Laplacian loss against the alpha column
The alpha-free modes drop the dataset's ``alpha`` column before any transform runs, so they cannot read it.

The loop itself (accelerate: data, optimiser, resume, checkpoints, validation, the saved model) is
``afmatting.training.train``, which ``afmatting finetune`` runs too; this script reads the configuration.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from afmatting.errors import AFMattingError
from afmatting.training import DEFAULTS, train
from afmatting.training.config import config_problem

# the pieces of the loop, re-exported for the tests and for scripts that import this file
from afmatting.training.batches import EpochSeededDataset, epoch_repeats  # noqa: F401
from afmatting.training.loop import RESUME_OVERRIDES, count_all_unknown  # noqa: F401
from afmatting.training.objective import compute_losses  # noqa: F401
from afmatting.training.optim import lr_multiplier, parameter_groups  # noqa: F401


def _yaml_value(text: str):
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:  # YAML 1.1 reads "5e-4" (no dot) as a string; on the command line it is a number
            return float(value)
        except ValueError:
            pass
    return value


def read_config(path: Path, seen: tuple = ()) -> dict:
    """A YAML config as a dict; a ``base: other.yaml`` key (relative to this file's folder) is read first and this
    file's keys override it (the AM-2K and P3M recipes share ``paper_vits_ddc.yaml``)."""
    if path.resolve() in seen:
        sys.exit(f"error: config '{path}' includes itself through 'base'")
    if not path.exists():
        sys.exit(f"error: config file '{path}' does not exist")
    loaded = yaml.safe_load(path.read_text()) or {}
    if not isinstance(loaded, dict):
        sys.exit(f"error: config file '{path}' is not a mapping of keys to values")
    base = loaded.pop("base", None)
    if base is None:
        return loaded
    return {**read_config(path.parent / str(base), seen + (path.resolve(),)), **loaded}


def parse_args(argv=None) -> argparse.Namespace:
    """DEFAULTS, then the ``--config`` YAML file, then ``--key value`` overrides; bad values exit with a usage error."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    config = dict(DEFAULTS)
    if known.config:
        path = Path(known.config)
        if not path.exists():
            sys.exit(f"error: config file '{path}' does not exist")
        loaded = read_config(path)
        unknown = sorted(set(loaded) - set(DEFAULTS))
        if unknown:
            sys.exit(f"error: unknown keys in {path}: {unknown}. Known keys: {sorted(DEFAULTS)}")
        config.update(loaded)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="YAML file with any of the keys below")
    for key, value in config.items():
        parser.add_argument(f"--{key}", type=_yaml_value, default=value, help=f"default: {value!r}")
    args = parser.parse_args(argv)
    if args.mixed_precision in (False, None):  # YAML reads a bare `no` as False
        args.mixed_precision = "no"
    problem = config_problem(args)
    if problem:
        parser.error(problem)
    return args


def main(argv=None) -> dict:
    """Train with the configuration of ``argv``; returns the run's summary."""
    return train(parse_args(argv))


def run_from_command_line(argv=None) -> int:
    """``main`` for the command line: a user error (bad dataset, model config, checkpoint) is one ``error:`` line
    and exit code 2; any other failure prints a one-line summary before its traceback and exits 1."""
    try:
        main(argv)
    except AFMattingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:
        if isinstance(e.code, str):  # the script's own "error: ..." exits
            print(e.code, file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001  (the summary line, then the traceback for a bug report)
        import traceback

        print(f"error: training failed with {type(e).__name__}: {e}", file=sys.stderr)
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_from_command_line())
