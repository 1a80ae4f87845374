"""The step clock of the benchmarks' children (imported there: it imports Keras)."""
import time

import keras
import numpy as np


class StepClock(keras.callbacks.Callback):
    """A timestamp per call of the step (per step when a call runs one), taken once its logs
    exist, so the step is done; `begin`: when fit started."""

    def __init__(self):
        super().__init__()
        self.times, self.begin = [], None

    def on_train_begin(self, logs=None):
        self.begin = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        float(np.asarray(logs["g_loss"]).reshape(-1)[0])
        self.times.append(time.perf_counter())
