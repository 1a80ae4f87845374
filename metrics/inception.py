"""Inception-v3 features for FID / KID / precision-recall (and the Inception score when the
weights include the classifier top), from weights on local disk only.

No weights can be downloaded here, so eval.py takes `--inception_weights=PATH`: a keras.applications
InceptionV3 weights file, with top (`inception_v3_weights_tf_dim_ordering_tf_kernels.h5`) or
without (`..._notop.h5`). Without that flag these metrics are reported as not computed, never
replaced by another network's numbers.

Protocol: images in [0, 1], grey images repeated to 3 channels, bilinear resize to 299x299,
scaled to [-1, 1] (keras.applications.inception_v3.preprocess_input); features are the 2,048-d
global average pool. This is Keras' port of the weights, not the TF1 graph of the original FID
code (Heusel et al. 2017), so FIDs differ slightly from published ones.
"""
import os

import keras
import numpy as np
import tensorflow as tf


class InceptionUnavailable(ValueError):
    """No usable Inception weights; the message says how to provide them."""


class InceptionFeatures:
    def __init__(self, weights_path):
        if not weights_path:
            raise InceptionUnavailable("FID/KID need Inception-v3 weights, which cannot be "
                                       "downloaded here: pass --inception_weights=PATH to a "
                                       "keras.applications InceptionV3 .h5 file")
        if not os.path.exists(weights_path):
            raise InceptionUnavailable(f"--inception_weights={weights_path} does not exist")
        try:
            full = keras.applications.InceptionV3(include_top=True, weights=weights_path)
            self.model = keras.Model(full.inputs, [full.get_layer("avg_pool").output,
                                                   full.output])
            self.has_top = True
        except (ValueError, OSError):
            try:
                self.model = keras.applications.InceptionV3(include_top=False, pooling="avg",
                                                            weights=weights_path)
            except (ValueError, OSError) as e:
                raise InceptionUnavailable(f"{weights_path} is not a keras InceptionV3 weights "
                                           f"file ({str(e).splitlines()[0][:120]})") from None
            self.has_top = False

    def __call__(self, images, batch_size=50):
        """(features [N, 2048], class probabilities [N, 1000] or None) of images in [0, 1]."""
        features, probs = [], []
        for i in range(0, len(images), batch_size):
            x = tf.convert_to_tensor(images[i:i + batch_size], tf.float32)
            if x.shape[-1] == 1:
                x = tf.tile(x, [1, 1, 1, 3])
            x = tf.image.resize(x, (299, 299)) * 2.0 - 1.0
            out = self.model(x, training=False)
            if self.has_top:
                features.append(np.asarray(out[0]))
                probs.append(np.asarray(out[1]))
            else:
                features.append(np.asarray(out))
        features = np.concatenate(features)
        return features, (np.concatenate(probs) if self.has_top else None)
