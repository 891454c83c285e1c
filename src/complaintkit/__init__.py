"""complaintkit: keep bank complaint registers (投诉登记台账) correct and act before escalation.

The core is plain functions over plain records; the CLI (``complaintkit.cli``) and the Excel
add-in (``complaintkit.addin``) are thin doors onto it.
"""

from __future__ import annotations

__version__ = "0.1.0"
