"""Training of the learned models (needs PyTorch: ``pip install terrasight[learned]``).

:mod:`terrasight.training.synthetic` makes synthetic change pairs (numpy only);
:mod:`terrasight.training.change` trains a change model on AirChange plus
synthetic pairs and writes weights, a registry entry and a log.
"""
