"""Where the training images come from, their licences and the credit they ask for.

Copied from the datasets README (../shared/datasets/README.md); a model card names every
source its model was trained on, since the licences travel with the images.
"""

from __future__ import annotations

SOURCES = {
    "pbc": {
        "what": "PBC dataset of normal peripheral blood cells: CellaVision DM96, Hospital Clinic "
        "of Barcelona, labelled by clinical pathologists",
        "licence": "not stated in the datasets README: see the article's data statement",
        "credit": "Acevedo et al., Data in Brief 30 (2020) 105474",
    },
    "malaria": {
        "what": "NIH / National Library of Medicine malaria cell images: smartphone camera on a "
        "microscope, Chittagong",
        "licence": "not stated in the datasets README: see the NLM release",
        "credit": "Rajaraman et al., PeerJ 6:e4568 (2018)",
    },
    "tecom": {
        "what": "Jiangxi Tecom Science Corp.: Motic Moticam Pro 252A on an N800-D microscope, a "
        "rapid white-cell stain; labels partly without expert review",
        "licence": "GPL-3.0 (github zxaoyou/segmentation_WBC, Dataset 1)",
        "credit": "Jiangxi Tecom; Zheng et al., Micron 107 (2018) 55-71",
    },
    "lisc": {
        "what": "LISC: Imam Khomeini hospital, Tehran; Zeiss Axioskop 40, Sony SSCDC50AP, "
        "Giemsa-Wright stain; labelled by a hematologist",
        "licence": "research use",
        "credit": "Rezatofighi & Soltanian-Zadeh, Comput. Med. Imaging Graph. 35 (2011) 333-343",
    },
    "cellavision-blog": {
        "what": "CellaVision analyser images from several labs; labels partly without expert "
        "review",
        "licence": "GPL-3.0 (github zxaoyou/segmentation_WBC, Dataset 2)",
        "credit": "the CellaVision blog; Zheng et al., Micron 107 (2018) 55-71",
    },
}

HEADING = "## Data sources, licences and credits"


def sources_of(names: list[str]) -> dict:
    """name -> its source entry, for each dataset or lab a model was trained on; a name this
    table does not know is listed as unknown rather than left out."""
    unknown = {"what": "not in training.sources", "licence": "unknown", "credit": "unknown"}
    return {name: SOURCES.get(name, unknown) for name in names}


def section(sources: dict) -> str:
    rows = [HEADING, "", "| images | what | licence | credit |", "|---|---|---|---|"]
    rows += [f"| {n} | {s['what']} | {s['licence']} | {s['credit']} |" for n, s in sources.items()]
    return "\n".join(rows) + "\n"
