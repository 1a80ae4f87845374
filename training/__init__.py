"""Training library behind train.py: config, loop, callbacks, pictures and export."""
