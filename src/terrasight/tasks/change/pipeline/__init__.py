"""The windowed change job: options, plan, tiles, clouds, the local or Dask run, resume."""
