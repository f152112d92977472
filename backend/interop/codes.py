"""The code systems and codes of the FHIR export, each LOINC code confirmed against a published
source (its long name as that source gives it, in the comment). A class without a confirmed
code goes out with `code.text` only: a wrong code is worse than none.

The white-cell percentages use the method-less "/100 leukocytes in Blood" terms, the members of
the manual differential panel 24318-8: the count is made on a blood film, one cell at a time
(as a manual differential is, not by an analyser), with a phone classifying each cell and people
confirming or correcting it; the method text of each Observation says so."""

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
DIAGNOSTIC_SECTION = "http://terminology.hl7.org/CodeSystem/v2-0074"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
RANGE_MEANING = "http://terminology.hl7.org/CodeSystem/referencerange-meaning"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
URI = "urn:ietf:rfc:3986"  # identifier values that are URIs themselves (urn:uuid:...)

# 24318-8 "Manual Differential panel - Blood" (loinc.org/24318-8, LOINC 2.78, which lists
# 30180-4 and 26450-7 among its members).
DIFFERENTIAL_PANEL = ("24318-8", "Manual Differential panel - Blood")

PER_CLASS: dict[str, tuple[str, str]] = {
    # 26511-6 "Neutrophils/100 leukocytes in Blood" (LOINC mapping tables and an HL7 FHIR
    # implementation guide's value set, found by exact code)
    "neutrophil": ("26511-6", "Neutrophils/100 leukocytes in Blood"),
    # 26478-8 "Lymphocytes/100 leukocytes in Blood" (an HL7 FHIR implementation guide's value set)
    "lymphocyte": ("26478-8", "Lymphocytes/100 leukocytes in Blood"),
    # 26485-3 "Monocytes/100 leukocytes in Blood" (its long common name; a healthassure.in LOINC
    # page gives the short form "Monocytes/Leukocytes in Blood")
    "monocyte": ("26485-3", "Monocytes/100 leukocytes in Blood"),
    # 26450-7 "Eosinophils/100 leukocytes in Blood" (loinc.org/24318-8, a panel member)
    "eosinophil": ("26450-7", "Eosinophils/100 leukocytes in Blood"),
    # 30180-4 "Basophils/100 leukocytes in Blood" (loinc.org/24318-8, a panel member)
    "basophil": ("30180-4", "Basophils/100 leukocytes in Blood"),
}
# Not coded, code.text only:
# - "ig" (immature granulocytes): the sources found disagree on the method-less code (38518-7
#   or 71695-1) and name 71695-1 "... by Automated count", which this count is not.
# - "erythroblast" (nucleated red cells per 100 white cells): loinc.org's mapping guidance calls
#   19048-8 the method-less term, but its long name could not be read from a source.
# - the malaria report and its parasitaemia: no code for "parasitized red cells per 100 red
#   cells in Blood by light microscopy" was confirmed (48427-9 is per 1000 red cells, 101343-2
#   is any parasite per cells).

INTERPRETATIONS = {"high": ("H", "High"), "low": ("L", "Low"), None: ("N", "Normal")}
