"""Fixed vocabularies of the modelled world (docs/background.md §2-3) and their integer codes.

Codes index the columns of the returnee arrays; the order of each tuple is the code.
"""

from enum import IntEnum

#: Return modalities (docs/background.md §2).
MODALITIES = ("avrr_europe", "humanitarian_transit", "forced", "spontaneous")
#: Returnee profiles.
PROFILES = ("standard", "vulnerable")
#: Service areas of direct assistance.
AREAS = ("economic", "social", "training", "psychosocial", "health", "protection")
#: Service stages that are not areas.
STAGES = ("reception", "case_management", "follow_up")
#: Segments of responsibility a scenario can hand over: stages, then areas.
SEGMENTS = STAGES + AREAS
#: Reintegration score dimensions (IOM): economic, social, psychosocial.
DIMENSIONS = ("economic", "social", "psychosocial")
#: Which score dimension each area's service improves.
AREA_DIMENSION = {
    "economic": "economic",
    "training": "economic",
    "social": "social",
    "protection": "social",
    "psychosocial": "psychosocial",
    "health": "psychosocial",
}
#: Provider kinds. External implementers serve the external channel; the others are national.
PROVIDER_KINDS = (
    "external_implementer",
    "national_agency",
    "local_office",
    "sector_service",
    "local_ngo",
)
#: How a provider delivers an area: itself, or by referral to another service.
SERVICE_MODES = ("direct", "referral")
FUNDER_KINDS = ("donor", "treasury")
#: National system building blocks (docs/background.md §3) and ownership.
BLOCKS = (
    "political_will",
    "policy",
    "lead_entity",
    "whole_of_government",
    "public_services",
    "coordination",
    "decentralisation",
    "sops_referral",
    "data_management",
    "mainstreaming",
    "budget",
    "ownership",
)


class Status(IntEnum):
    """Returnee status."""

    ACTIVE = 0
    CLOSED = 1
    REMIGRATED = 2


class Episode(IntEnum):
    """State of one need episode (one returnee x one service area)."""

    NONE = 0  # no need in this area
    LATENT = 1  # need exists, help not (yet) sought
    WAITING = 2  # on a waiting list
    IN_SERVICE = 3  # served by a provider
    DONE = 4  # assistance completed
    INTERRUPTED = 5  # provider stopped; waiting to be picked up again
    ENDED = 6  # in service when the returnee's file closed (left, or monitoring ended)
