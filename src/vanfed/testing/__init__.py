"""Helpers for testing against vanfed (vanfed's own tests and benchmarks use them too), in the
spirit of ``numpy.testing``: nothing here is for production.

- a fixed clock (``NOW``, ``TODAY``), seeded keys (``seeded``) and a signed test registry
  (``Trust``), and ``pin`` to pin its roots as a trust root;
- ``small_summary``: a valid, tiny summary;
- cubes from arrays (``make_cube``, ``with_margins``, ``cube_from_records``);
- member states that published their national summaries (``members``, ``Member``), and
  secure rounds among them in memory (``announce``, ``run_round``);
- the service runner (``Service``: a real ``vanfed serve`` process) and the CLI in a
  subprocess (``run_cli``, ``cli_env``, ``PASSPHRASE``).

Importing this package needs only vanfed's own dependencies (no pytest, hypothesis or pandas).
"""

from vanfed.testing._cubes import cube_from_records, make_cube, with_margins
from vanfed.testing._federation import Member, announce, members, run_round
from vanfed.testing._service import PASSPHRASE, Service, cli_env, run_cli
from vanfed.testing._summaries import small_summary
from vanfed.testing._trust import NOW, TODAY, Trust, pin, seeded

__all__ = [
    "NOW",
    "PASSPHRASE",
    "TODAY",
    "Member",
    "Service",
    "Trust",
    "announce",
    "cli_env",
    "cube_from_records",
    "make_cube",
    "members",
    "pin",
    "run_cli",
    "run_round",
    "seeded",
    "small_summary",
    "with_margins",
]
