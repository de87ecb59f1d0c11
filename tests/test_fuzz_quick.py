"""About 150 damaged DICOM files (a spread of every mutation kind of the fuzz corpus) through
``decode(path, backend="cpu")`` and the reader, each run in a watched worker process: every run
must end decoded or as a clean ``DicomDecodeError`` naming the file.

The full corpus (over 1,000 files) runs with ``scripts/fuzz.sh``.
"""

from __future__ import annotations

import pytest

from tests.fuzz.mutations import plan, quick_subset
from tests.fuzz.runner import FAILURES, Limits, Outcome, run_cases


@pytest.fixture(scope="module")
def quick_outcomes() -> list[Outcome]:
    # A 10 s hard kill keeps the subset quick; anything over 5 s already fails as "slow".
    outcomes, problems, _ = run_cases(quick_subset(plan(seed=0)), limits=Limits(timeout=10.0))
    assert not problems, problems
    return outcomes


def _listing(outcomes: list[Outcome], outcome: str) -> str:
    bad = [o for o in outcomes if o.outcome == outcome]
    lines = [
        f"{o.kind} / {o.source} / {o.entry}: {o.description} -> {o.error_type}: {o.first_line}"
        f" [{o.location}]"
        for o in bad[:25]
    ]
    more = f"\n... and {len(bad) - 25} more" if len(bad) > 25 else ""
    return f"{len(bad)} run(s) ended as {outcome}:\n" + "\n".join(lines) + more


def test_quick_corpus_spans_every_mutation_kind(quick_outcomes):
    kinds = {o.kind for o in quick_outcomes}
    assert len(kinds) >= 20
    assert len({o.case_index for o in quick_outcomes}) >= 120


@pytest.mark.parametrize("failure", FAILURES)
def test_no_damaged_file_ends_in(quick_outcomes, failure):
    assert not any(o.outcome == failure for o in quick_outcomes), _listing(quick_outcomes, failure)
