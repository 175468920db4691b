"""The conformance kit, run for both adapters against a reference CSD over real HTTP: the MX adapter
against a CSD speaking MX (NSD's profile), the MT adapter against one speaking MT (Strate's)."""

from csd_adapters.conformance import ConformanceSuite


class TestAdapterConformsAgainstReferenceCsd(ConformanceSuite):
    """Every test of the kit, once per adapter (the ``conformance_target`` fixture's parameters)."""
