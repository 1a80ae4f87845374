"""Datasets: TFDS image sets, the shipped `mnist_5k` digits, and 2-D toy mixtures."""
from data.datasets import (DATASETS, DatasetError, DatasetSpec, LoadedData, load,
                           make_train_dataset)
