"""Products of a change result: the saved folder, ``facts.json``, the caption and ``report.html``.

This layer sits above :mod:`terrasight.tasks.change` (the result) and
:mod:`terrasight.tasks.interpret` (facts, captions, answers) and imports both;
neither imports it (``tests/test_architecture.py``).
"""
