"""LoadGen's vocabulary that every stage shares."""

from __future__ import annotations

# A user.conf value: what a manifest declares and calibration chooses.
LoadGenValue = int | float
