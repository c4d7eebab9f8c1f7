"""Change methods: each a ``MethodSpec`` (fit on samples, score windows), their registry and the no-change checks."""
