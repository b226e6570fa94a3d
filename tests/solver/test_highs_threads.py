"""HiGHS's thread count is process-global: solves with different counts must still work."""

import highspy

from solver.solve import solve
from tests.conftest import load


def test_highs_solves_with_changing_thread_counts() -> None:
    doc = load("conformance/tiny")
    # Another HiGHS user in the process fixes the global scheduler at 1 thread...
    other = highspy.Highs()
    other.setOptionValue("output_flag", False)
    other.setOptionValue("threads", 1)
    other.run()
    # ...and rdplan's HiGHS backend still solves at 2 threads, then at 1.
    for threads in (2, 1, 2):
        plan = solve(doc, backend="highs", time_limit=20, threads=threads)
        assert (plan.status, plan.objective) == ("optimal", 1855)
        assert plan.solver is not None and plan.solver.threads == threads
