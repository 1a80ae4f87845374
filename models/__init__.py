"""The GAN models (a keras.Model subclass per family), their networks, latents and the variant
table."""
from models.acgan import ACGAN, ClassLatent
from models.gan import GAN
from models.infogan import CodeLatent, InfoGAN
from models.latent import LatentSpec
from models.networks import build_discriminator, build_generator, check_shape
from models.wgan import WGAN


def latent_of_export(saved_model):
    """The latent of a loaded generator export, from its `latent_spec` signature."""
    sizes = saved_model.signatures["latent_spec"]()
    return latent_from_sizes(**{name: int(value) for name, value in sizes.items()})


def latent_from_sizes(noise_dim, num_classes=0, num_categorical=0, num_continuous=0,
                      noise_uniform=0):
    """The latent of an exported generator, from what its `latent_spec` signature reports
    (exports older than `noise_uniform` drew Gaussian noise)."""
    noise = "uniform" if noise_uniform else "normal"
    if num_classes:
        return ClassLatent(noise_dim, noise=noise, num_classes=num_classes)
    if num_categorical or num_continuous:
        return CodeLatent(noise_dim, noise=noise, num_categorical=num_categorical,
                          num_continuous=num_continuous)
    return LatentSpec(noise_dim, noise=noise)
