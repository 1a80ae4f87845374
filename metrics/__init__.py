"""Sample-quality metrics (scores.py), the digit classifier they use on MNIST-like data
(classifier.py) and Inception features for natural images (inception.py)."""
