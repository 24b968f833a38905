"""score-sde-jax command line: train, evaluate, sample, reconstruct (MRI / inverse problems).

    python main.py --config configs/toy2d.py --workdir runs/toy2d --mode train
    python main.py --config configs/toy2d.py --workdir runs/toy2d --mode sample
    python main.py --config configs/toy2d.py --workdir runs/toy2d --mode eval

    python main.py --config configs/mri/brain_recon.py --workdir runs/brain --mode recon
    python main.py --config configs/mri/brain128.py --workdir runs/b128 --mode export   # EMA weights -> config.prior_dir
    python main.py --config configs/digits_ddpmpp.py --workdir runs/d --mode figures   # schedule / SNR / x0 -> xT PNGs
    python main.py --config configs/mri/score_mri_knee320.py --workdir runs/knee --mode import \
        --config.import_path=checkpoint_95.pth                                       # a peer checkpoint -> workdir

Override any config key: ``--config.training.n_iters=2000``.
"""
from __future__ import annotations

import sys

from run import host_memory, xla_flags

host_memory.apply(__name__)   # a script may restart once, with huge pages for malloc (run/host_memory.py)
xla_flags.apply()   # faster XLA:CPU kernels; must precede the first JAX backend (run/xla_flags.py)

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Path to an ml_collections config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Run directory: checkpoints/, samples/, metrics.jsonl live here.")
flags.DEFINE_enum("mode", "train", ["train", "eval", "sample", "recon", "export", "figures", "import"],
                  "What to run.")
flags.DEFINE_bool("overwrite", False, "sample / eval / recon / figures: replace outputs that exist (they are "
                  "refused otherwise).")
flags.mark_flags_as_required(["config", "workdir"])


def _mode(name: str):
    """The mode's entry point, ``fn(config, workdir, overwrite)``; imported on demand (each pulls
    in JAX). train, export and import write no result files that could be replaced (export and
    import refuse an existing prior / checkpoint outright), so ``--overwrite`` means nothing to them."""
    if name == "train":
        from run.train import train
        return lambda config, workdir, overwrite: train(config, workdir)
    if name == "sample":
        from run.sample import sample
        return sample
    if name == "eval":
        from run.evaluate import evaluate
        return evaluate
    if name == "export":
        from run.export import export
        return lambda config, workdir, overwrite: export(config, workdir)
    if name == "figures":
        from run.figures import figures
        return figures
    if name == "import":
        from run.importer import import_checkpoint
        return lambda config, workdir, overwrite: import_checkpoint(config, workdir)
    from run.recon import reconstruct
    return reconstruct


def main(argv):
    del argv
    # Orbax logs every save at INFO; keep the terminal to the progress bar unless asked (-v 0).
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
        import logging as pylogging
        pylogging.getLogger().setLevel(pylogging.WARNING)
    from run.builders import ConfigError
    from run.checkpoint import CheckpointWriteError
    # Each mode starts with run.context.start_run: join a multi-process run, validate the
    # config, all before anything is computed or written.
    # Exit codes: 0 done (or stopped by SIGTERM / SIGINT with a checkpoint saved); 2 the command
    # must change (bad config, workdir held by another training run, output exists without
    # --overwrite); 3 a checkpoint could not be written (disk full, read-only); a second signal
    # kills the process by that signal (-15 / -2 as a subprocess return code).
    try:
        _mode(FLAGS.mode)(FLAGS.config, FLAGS.workdir, FLAGS.overwrite)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except CheckpointWriteError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    app.run(main)
