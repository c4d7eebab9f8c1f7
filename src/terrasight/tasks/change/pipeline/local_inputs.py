"""A change job over a box of remote images runs on local copies of the box's windows.

Without copies, the fit sample, the windows, the facts and the report each fetched much
of the box's blocks again: a 1/16 box of a 4096 px tiled pair cost 4.8 times its blocks
(``benchmarks/remote_bytes.py``). :func:`local_plan` copies the window of each remote
input (a URL, or a STAC Item's VRT of remote assets) once into the job folder
(:mod:`terrasight.io.box_copy`), and the job reads the copies; :func:`as_given` makes the result name the URLs again, keeping the copies in
:attr:`~terrasight.tasks.change.result.ChangeResult.local_inputs` for the facts and the
report. A job whose windows run on a Dask scheduler at an address keeps reading the
URLs (its workers may not see the job folder).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from terrasight.io.box_copy import localize_pair, reads_network
from terrasight.tasks.change.pipeline.plan import Plan
from terrasight.tasks.change.result import ChangeResult


def wants_copies(plan: Plan) -> bool:
    """Whether the job copies its inputs: a box, a remote input (a URL, an Item with remote
    assets), windows on this machine.

    Example:
        >>> wants_copies(plan)  # doctest: +SKIP
        True
    """
    pair, scheduler = plan.pair, plan.opts.scheduler
    remote = reads_network(pair.before) or reads_network(pair.after)
    return pair.bbox is not None and remote and scheduler in (None, "local")


def local_plan(plan: Plan, folder: Path, progress: bool = False) -> Plan:
    """``plan`` reading local copies of its remote inputs' box, or ``plan`` itself.

    Example:
        >>> local = local_plan(plan, Path("changes"))  # doctest: +SKIP
        >>> local.pair.before.path  # doctest: +SKIP
        PosixPath('changes/.terrasight-inputs/before/2019.tif')
    """
    if not wants_copies(plan):
        return plan
    return replace(plan, pair=localize_pair(plan.pair, folder, progress))


def as_given(result: ChangeResult, given: Plan, ran: Plan) -> ChangeResult:
    """``result`` of the plan that ran, naming the inputs as given (URLs), with the copies.

    Example:
        >>> as_given(result, plan, local).before  # doctest: +SKIP
        'https://host/2019.tif'
    """
    if ran is given:
        return result
    return replace(
        result,
        before=str(given.pair.before.given),
        after=str(given.pair.after.given),
        local_inputs=(str(ran.pair.before.path), str(ran.pair.after.path)),
    )
