"""The ``config.data`` section tests build datasets from (one place for its keys)."""
from ml_collections import ConfigDict


def data_config(dataset: str = "digits", **overrides) -> ConfigDict:
    """A ``config.data`` for ``dataset`` at 16 px, one channel, no options; ``overrides`` win."""
    base = dict(dataset=dataset, image_size=16, num_channels=1, centered=False,
                random_flip=False, uniform_dequantization=False, root="")
    base.update(overrides)
    return ConfigDict(base)
