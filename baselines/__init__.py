"""Method registry. Adding a method: write one file in this folder with a ``Method`` subclass,
then add one line to ``REGISTRY`` below."""

from __future__ import annotations

from .base import Method, Params
from .curriculum_wgan_gp import CurriculumWGANGP
from .dyngan import DynGAN
from .gan import GAN
from .gdpp import GDPP
from .greed_gan import GreedGAN
from .greed_wgan import GreedWGAN
from .lsgan import LSGAN
from .pacgan import PacGAN2, PacGAN3, PacGAN4
from .scgan import SCGAN
from .sngan import SNGAN
from .unrolled_gan import UnrolledGAN
from .wgan import WGAN
from .wgan_gp import WGANGP

REGISTRY: dict[str, type[Method]] = {
    m.name: m
    for m in (
        GAN,
        WGAN,
        WGANGP,
        GreedGAN,
        GreedWGAN,
        PacGAN2,
        PacGAN3,
        PacGAN4,
        LSGAN,
        SNGAN,
        UnrolledGAN,
        DynGAN,
        SCGAN,
        CurriculumWGANGP,
        GDPP,
    )
}

__all__ = ["REGISTRY", "Method", "Params"]
