"""Networks, latent samplers, the variant table and the GAN model."""
from models.gan import GAN
from models.latent import LatentSpec
from models.networks import build_discriminator, build_generator, check_shape
from models.variants import VARIANTS, Variant
