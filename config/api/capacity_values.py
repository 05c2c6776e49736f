"""The variant's capacity settings as CreateEndpointConfig's ProductionVariant gets them
(``fields.SENT``): only on a variant with instances (the rules refuse them on serverless)."""

from __future__ import annotations

from typing import Any

from .values import Site, on_variant


def upper(site: Site, value: Any) -> Any:
    """A strategy as the API spells it (``prefix_aware`` -> ``PREFIX_AWARE``)."""
    return on_variant(site, str(value).upper())


def instance_pools(site: Site, value: Any) -> Any:
    """InstancePools: ``instance_type`` at priority 1, the fallbacks after it (none: the
    variant has one InstanceType instead)."""
    from config.rules.capacity import most_pools

    ep = site.endpoint
    if ep is None or not value or len(ep.instance_types) > most_pools():
        return None  # too many: the rule says so, by the config's count
    return on_variant(site, [{"InstanceType": itype, "Priority": priority}
                             for priority, itype in enumerate(ep.instance_types, start=1)])
