"""medfleet: regulated software updates for medical-device fleets.

The package is split into domain packages (see ``shared/DESIGN.md``); this top level holds only
the version.
"""

__version__ = "0.1.0"
