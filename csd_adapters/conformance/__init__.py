"""The CSD adapter conformance kit: ``ConformanceSuite`` (the tests), ``ConformanceTarget`` and
``CsdControl`` (what a CSD must expose to be tested). How to run it: README.md in this folder."""

from csd_adapters.conformance.suite import ConformanceSuite
from csd_adapters.conformance.target import ConformanceTarget, CsdControl, ReferenceCsdControl

__all__ = ["ConformanceSuite", "ConformanceTarget", "CsdControl", "ReferenceCsdControl"]
