"""Many change jobs at once: a table of pairs run here or on Dask workers.

:func:`read_pairs` reads the table (CSV: ``before``, ``after``, optional ``name``),
:func:`run_batch` runs every pair's change job into a folder of its own and
writes one summary table and one GeoPackage of every pair's objects.
"""

from terrasight.tasks.batch.outcome import PairOutcome
from terrasight.tasks.batch.run import BatchResult, run_batch
from terrasight.tasks.batch.table import PairRow, read_pairs

__all__ = ["BatchResult", "PairOutcome", "PairRow", "read_pairs", "run_batch"]
