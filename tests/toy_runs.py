"""The TINY command line of tests/test_cli.py as a config, and its training run in this process
(no interpreter start-up to wait for): the fault tests' common ground."""


def tiny_config(hidden: int = 32):
    """configs/toy2d.py with test_cli.TINY's overrides."""
    from configs.toy2d import get_config
    c = get_config()
    c.model.hidden, c.model.num_layers, c.model.num_scales, c.model.ema_rate = hidden, 2, 100, 0.99
    t = c.training
    t.batch_size, t.n_jitted_steps, t.log_freq = 64, 10, 50
    c.sampling.num_samples, c.eval.batch_size, c.eval.num_samples = 64, 64, 64
    return c


def train_here(workdir, n_iters: int, snapshot_freq: int):
    from run.train import train
    c = tiny_config()
    c.training.n_iters, c.training.snapshot_freq = n_iters, snapshot_freq
    return train(c, str(workdir), progress=False)


def restore_step(workdir, step: int):
    """The TrainState of checkpoint ``step`` (restored into an abstract state: nothing compiles)."""
    from run import builders
    from run.checkpoint import Checkpointer
    from run.context import RunContext
    c = tiny_config()
    ck = Checkpointer(str(workdir), read_only=True)
    try:
        return ck.restore(RunContext(c).abstract_state(builders.build_optimizer(c)), step)
    finally:
        ck.close()
