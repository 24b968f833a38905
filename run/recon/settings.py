"""The ``recon`` section of a config, checked and parsed once into a :class:`ReconSettings`.

Every other part of the reconstruction reads this value, never the raw config, so each option
is derived in one place (and the checks run once, before any compute or disk access).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

import mri
from run.builders import ConfigError
from samplers import get_posterior_method, posterior_options


class ReconConfigError(ConfigError):
    """The recon section names something that does not exist or asks for something impossible."""


_PRIOR_NAMES = {"auto": "auto", "false": False, "real": False, "true": True, "complex": True, "split": "split"}


def parse_complex_prior(value) -> Any:
    """``recon.complex_prior``: False / True / "split" / "auto" (also "real", "complex", and bool
    strings from the command line)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    key = str(value).strip().lower()
    if key not in _PRIOR_NAMES:
        raise ReconConfigError(f"recon.complex_prior={value!r}; valid: 'auto', 'real' (False), "
                               "'complex' (True), 'split'")
    return _PRIOR_NAMES[key]


def _method_options(rc) -> dict:
    """The method's options: the ``recon.<method>`` section (num_steps = 0 means the method's own
    default), then ``recon.options`` on top (a free-form dict for programmatic use)."""
    def plain(d):
        d = d.to_dict() if hasattr(d, "to_dict") else dict(d or {})
        return {("lam" if k == "lambda" else k): (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}
    opts = plain(rc.get(rc.method, None))
    if opts.get("num_steps", None) == 0:
        del opts["num_steps"]
    opts.update(plain(rc.get("options", None)))
    return opts


@dataclasses.dataclass(frozen=True)
class ReconSettings:
    """Everything the reconstruction needs from ``config.recon`` and ``config.data``."""
    method: str
    options: dict                  # the posterior method's keyword options
    complex_prior: Any             # False / True / "split" / "auto" (see :meth:`prior_for`)
    coil_by_coil: bool
    mask_kind: str
    acceleration: float
    center_fraction: float
    mask_seed: int
    multicoil: bool
    num_coils: int
    fastmri_path: str
    downsample: bool               # fastMRI files: a data.image_size view of the file's field of view
    num_slices: int
    n_samples: int
    slice_batch: int
    noise_std: float
    cs_method: str                 # one CS method, or several separated by commas (see cs_methods)
    cs_lam: float | None           # None: tuned (cs_tune) or the CS solver's scale-free default
    cs_iters: int
    seed: int
    name: str                      # the output folder under <workdir>/recon/
    figures: bool
    image_size: int
    data: Any                      # config.data (dataset, centering) for the images and the scaler
    cs_tune: bool = False          # choose CS λ on validation slices of the training split
    cs_val_slices: int = 8         # how many
    tune_gamma: bool = False       # noisy data: the posterior method's weight (dds: ``gamma_floor``) from the same validation slices

    @property
    def cs_methods(self) -> tuple[str, ...]:
        """The CS baselines to run: ``recon.cs_method`` split at commas ("tv,wavelet")."""
        return _cs_methods(self.cs_method)

    def prior_for(self, complex_data: bool):
        """"auto": the real prior as it is for real images, "split" for complex images (fastMRI, or
        the coil images of a coil-by-coil reconstruction)."""
        if self.complex_prior == "auto":
            return "split" if (complex_data or self.coil_by_coil) else False
        return self.complex_prior

    @property
    def mask_label(self) -> str:
        return f"{self.mask_kind} {self.acceleration:g}x"


def _cs_methods(value) -> tuple[str, ...]:
    return tuple(m.strip() for m in str(value).split(",") if m.strip())


def run_name(rc) -> str:
    """The output folder name of a ``config.recon`` section: ``recon.name``, else
    ``<method>_<mask><acceleration>x[_mc<coils>]``."""
    if rc.get("name", ""):
        return str(rc.name)
    coils = f"_mc{int(rc.num_coils)}" if rc.multicoil else ""
    return f"{rc.method}_{rc.mask.kind}{float(rc.mask.acceleration):g}x{coils}"


def parse_recon(config) -> ReconSettings:
    """Check ``config.recon`` (errors name the key and list the valid choices) and parse it."""
    if "recon" not in config:
        raise ReconConfigError("the config has no `recon` section (see configs/mri/brain_recon.py)")
    rc = config.recon
    try:
        get_posterior_method(rc.method)
    except ValueError as e:
        raise ReconConfigError(f"recon.method: {e}") from None
    options = _method_options(rc)
    bad = [k for k in options if k not in posterior_options(rc.method)]
    if bad:
        raise ReconConfigError(f"recon.{rc.method} / recon.options {bad} are not options of {rc.method!r}; "
                               f"valid: {posterior_options(rc.method)}")
    if rc.mask.kind not in mri.MASK_KINDS:
        raise ReconConfigError(f"recon.mask.kind={rc.mask.kind!r}; valid: {sorted(mri.MASK_KINDS)}")
    if not float(rc.mask.acceleration) >= 1:
        raise ReconConfigError(f"recon.mask.acceleration must be >= 1; got {rc.mask.acceleration}")
    cs_methods = _cs_methods(rc.cs_method)
    if not cs_methods or any(m not in mri.CS_METHODS for m in cs_methods):
        raise ReconConfigError(f"recon.cs_method={rc.cs_method!r}; valid: {sorted(mri.CS_METHODS)} "
                               "(several: separated by commas)")
    for key in ("num_slices", "n_samples", "slice_batch", "cs_iters", "num_coils", "cs_val_slices"):
        if int(rc.get(key, 1)) < 1:
            raise ReconConfigError(f"recon.{key} must be >= 1; got {rc[key]}")
    if not float(rc.get("cs_lam", 0.0)) >= 0:
        raise ReconConfigError(f"recon.cs_lam must be >= 0 (0: tuned or the default); got {rc.cs_lam}")
    if not float(rc.noise_std) >= 0:
        raise ReconConfigError(f"recon.noise_std must be >= 0; got {rc.noise_std}")
    coil_by_coil = options.get("multicoil", "sense") == "coil_by_coil"
    settings = ReconSettings(
        method=rc.method, options=options, complex_prior=parse_complex_prior(rc.complex_prior),
        coil_by_coil=coil_by_coil, mask_kind=rc.mask.kind, acceleration=float(rc.mask.acceleration),
        center_fraction=float(rc.mask.center_fraction), mask_seed=int(rc.mask.seed),
        multicoil=bool(rc.multicoil), num_coils=int(rc.num_coils), fastmri_path=str(rc.fastmri_path or ""),
        downsample=bool(rc.get("downsample", False)),
        num_slices=int(rc.num_slices), n_samples=int(rc.n_samples), slice_batch=int(rc.slice_batch),
        noise_std=float(rc.noise_std), cs_method=rc.cs_method, cs_lam=float(rc.get("cs_lam", 0.0)) or None,
        cs_iters=int(rc.cs_iters), seed=int(rc.seed), name=run_name(rc), figures=bool(rc.get("figures", True)),
        image_size=int(config.data.image_size), data=config.data, cs_tune=bool(rc.get("cs_tune", False)),
        cs_val_slices=int(rc.get("cs_val_slices", 8)), tune_gamma=bool(rc.get("tune_gamma", False)))
    prior = settings.prior_for(bool(settings.fastmri_path))
    if coil_by_coil and not (settings.multicoil or settings.fastmri_path):
        raise ReconConfigError("recon.options.multicoil='coil_by_coil' needs multi-coil data (recon.multicoil=True "
                               "or a multi-coil fastMRI file)")
    if coil_by_coil and prior is False:
        raise ReconConfigError("coil_by_coil reconstructs complex coil images: set recon.complex_prior to "
                               "'split' (or True for a two-channel prior)")
    if coil_by_coil and config.data.get("centered", False):
        raise ReconConfigError("coil_by_coil needs data.centered=False (coil images have no offset)")
    if int(config.data.get("num_channels", 1)) != (2 if prior is True else 1):
        raise ReconConfigError(f"recon.complex_prior={prior!r} needs data.num_channels="
                               f"{2 if prior is True else 1}; got {config.data.get('num_channels')}")
    return settings


def as_settings(config_or_settings) -> ReconSettings:
    """A :class:`ReconSettings` as it is, or a config parsed by :func:`parse_recon`."""
    if isinstance(config_or_settings, ReconSettings):
        return config_or_settings
    return parse_recon(config_or_settings)


def validate_recon(config) -> None:
    """The checks of :func:`parse_recon` alone (e.g. before a long run starts)."""
    parse_recon(config)

