"""MRI physics for score-based reconstruction: k-space operators, masks, coil maps, fastMRI I/O,
metrics and classical baselines.

    import mri
    mask = mri.make_mask("equispaced", shape=(H, W), acceleration=4, center_fraction=0.08, seed=0)
    op = mri.SinglecoilOperator(mask)          # x: [B, H, W] -> y: [B, H, W] = mask * fft2c(x)
    op = mri.MulticoilOperator(mask, sens)     # sens: [C, H, W]; y: [B, C, H, W]
    x = op.adjoint(y); x = op.normal(x)        # A^H y, A^H A x
    x = mri.conjugate_gradient(op.normal, rhs, x0, n_iter=20, damping=0.0)
    x = mri.cs_reconstruct(op, y, method="tv")          # also "wavelet" (Haar), "wavelet_db4"
    best = mri.tune_cs_lambda(op, y_val, gt_val, "tv")  # λ from validation slices -> rel_lam=best["rel_lam"]

Pure JAX / NumPy on top of :mod:`linops` (operator base, CG); only :mod:`mri.fastmri` touches disk.
"""
from mri.fft import as_complex, fft2c, fft2c_np, ifft2c, ifft2c_np
from mri.fov import crop_center, square_image, square_kspace
from mri.masks import MASK_KINDS, make_mask, mask_acceleration
from mri.operators import MulticoilOperator, SinglecoilOperator
# Not MRI, but long importable from here: the shared floor holds them (linops).
from linops import ColorizationOperator, InpaintingOperator, LinearOperator, conjugate_gradient
from mri.coils import birdcage_maps, center_crop, estimate_sens_maps, rss, ssos_combine
from mri.fastmri import FastMRIFormatError, FastMRIVolume, write_fastmri_file
from mri.metrics import (UNCERTAINTY_KEYS, calibrated_coverage, calibrated_spearman, mean_metrics, nmse, object_support, psnr, slice_metrics,
                         ssim, uncertainty_metrics)
from mri.phantom import phantom
from mri.wavelets import daubechies_filter, haar2d, haar_levels, ihaar2d, swt2, swt2_adjoint, swt_weights, wavedec2, waverec2
from mri.recon import (CS_METHODS, Sparsifier, cs_objective, cs_reconstruct, finite_diff, finite_diff_adjoint,
                       lambda_scale, operator_norm_sq, soft_threshold, tv_sparsifier, wavelet_sparsifier, zero_filled)
from mri.tuning import DEFAULT_REL_GRID, grid_search, tune_cs_lambda

__all__ = [
    "as_complex", "fft2c", "ifft2c", "fft2c_np", "ifft2c_np", "crop_center", "square_image", "square_kspace", "MASK_KINDS", "make_mask", "mask_acceleration", "LinearOperator",
    "SinglecoilOperator", "MulticoilOperator", "InpaintingOperator", "ColorizationOperator",
    "conjugate_gradient", "birdcage_maps", "center_crop", "estimate_sens_maps", "rss", "ssos_combine",
    "FastMRIFormatError", "FastMRIVolume", "write_fastmri_file", "nmse", "psnr", "ssim", "slice_metrics",
    "mean_metrics", "UNCERTAINTY_KEYS", "calibrated_coverage", "calibrated_spearman", "object_support", "uncertainty_metrics", "phantom",
    "CS_METHODS", "Sparsifier", "cs_objective", "cs_reconstruct", "finite_diff", "finite_diff_adjoint", "lambda_scale",
    "operator_norm_sq", "soft_threshold", "tv_sparsifier", "wavelet_sparsifier", "zero_filled",
    "daubechies_filter", "haar2d", "haar_levels", "ihaar2d", "swt2", "swt2_adjoint", "swt_weights", "wavedec2",
    "waverec2", "DEFAULT_REL_GRID", "grid_search", "tune_cs_lambda",
]
