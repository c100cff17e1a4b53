"""schema.org structured data (JSON-LD) for condition and study pages.

Input: a `Condition` or `Study`, the site settings, the URL helper and the bibliography.
Output: plain dicts of JSON values. Templates serialise them with Jinja's `tojson`, which
escapes `<`, `>`, `&` and `'` as `\\u003c`-style sequences, so a `</script>` inside a title can
never end the script block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .bibliography import Name, Reference
from .content import Condition, ReviewDates, SiteConfig, Study
from .evidence import DESIGNS
from .urls import Urls

JsonObject = dict[str, Any]

CONTEXT = "https://schema.org"
# MeSH publication types (schema.org's MedicalScholarlyArticle.publicationType takes these).
_PUBLICATION_TYPES = {
    "systematic-review": "Systematic Review",
    "meta-analysis": "Meta-Analysis",
    "overview-of-reviews": "Review",
    "guideline": "Practice Guideline",
    "narrative-review": "Review",
    "prevalence-review": "Systematic Review",
    "bibliometric-analysis": "",
}
_TRIALS = {"rct", "non-randomised-trial", "trial-protocol"}
_OBSERVATIONAL = {
    "uncontrolled-study": "https://schema.org/Observational",
    "imaging-study": "https://schema.org/Observational",
    "case-series": "https://schema.org/Observational",
    "case-report": "https://schema.org/Observational",
    "cross-sectional-survey": "https://schema.org/CrossSectional",
}
PATIENTS: JsonObject = {"@type": "MedicalAudience", "audienceType": "Patient"}


def _organisation(config: SiteConfig, urls: Urls) -> JsonObject:
    return {"@type": "Organization", "name": config.publisher, "url": urls.absolute(urls.home())}


def _page(
    kind: str,
    url: str,
    name: str,
    description: str,
    review: ReviewDates,
    config: SiteConfig,
    urls: Urls,
) -> JsonObject:
    canonical = urls.absolute(url)
    return {
        "@type": kind,
        "@id": canonical,
        "url": canonical,
        "name": name,
        "description": description,
        "inLanguage": config.language,
        "lastReviewed": review.last_reviewed.isoformat(),
        "reviewedBy": _organisation(config, urls),
        "publisher": _organisation(config, urls),
        "audience": PATIENTS,
        "isPartOf": {"@type": "WebSite", "name": config.title, "url": urls.absolute(urls.home())},
    }


def _condition(condition: Condition, urls: Urls) -> JsonObject:
    return {
        "@type": "MedicalCondition",
        "name": condition.title,
        "url": urls.absolute(urls.condition(condition.slug)),
    }


def condition_page(condition: Condition, config: SiteConfig, urls: Urls) -> JsonObject:
    page = _page(
        "MedicalWebPage",
        urls.condition(condition.slug),
        condition.title,
        condition.summary,
        condition.review,
        config,
        urls,
    )
    about = _condition(condition, urls) | {"description": condition.summary}
    return {"@context": CONTEXT, **page, "about": about, "abstract": condition.bottom_line}


def _person(name: Name) -> JsonObject:
    if name.literal:
        return {"@type": "Organization", "name": name.literal}
    family = " ".join(part for part in (name.particle, name.family) if part)
    full = " ".join(part for part in (name.given, family, name.suffix) if part)
    person: JsonObject = {"@type": "Person", "name": full, "familyName": family}
    if name.given:
        person["givenName"] = name.given
    return person


def article(reference: Reference, design: str, about: Sequence[JsonObject]) -> JsonObject:
    """The publication itself, as a MedicalScholarlyArticle."""
    item: JsonObject = {"@type": "MedicalScholarlyArticle", "name": reference.get("title")}
    if reference.authors:
        item["author"] = [_person(n) for n in reference.authors]
    if reference.year:
        item["datePublished"] = reference.year
    journal = reference.get("journal") or reference.get("journaltitle")
    if journal:
        item["isPartOf"] = {"@type": "Periodical", "name": journal}
    publication_type = _PUBLICATION_TYPES.get(design, "")
    if publication_type:
        item["publicationType"] = publication_type
    identifiers = []
    doi = reference.get("doi")
    if doi:
        item["sameAs"] = f"https://doi.org/{doi}"
        identifiers.append({"@type": "PropertyValue", "propertyID": "DOI", "value": doi})
    for field, name in (("pmid", "PMID"), ("pmcid", "PMCID")):
        if reference.get(field):
            identifiers.append(
                {"@type": "PropertyValue", "propertyID": name, "value": reference.get(field)}
            )
    if identifiers:
        item["identifier"] = identifiers
    if about:
        item["about"] = list(about)
    return item


def _study_entity(
    study: Study, references: Mapping[str, Reference], about: list[JsonObject]
) -> JsonObject:
    sources = [references[key] for key in study.references if key in references]
    design = DESIGNS[study.design]
    if (design.synthesis or study.design == "bibliometric-analysis") and sources:
        entity = article(sources[0], study.design, about)
        if sources[1:]:
            entity["citation"] = [article(r, "", ()) for r in sources[1:]]
        return entity
    entity = {"@type": "MedicalStudy", "name": study.title, "healthCondition": about}
    if study.design in _TRIALS:
        entity["@type"] = "MedicalTrial"
        if study.design == "rct":
            entity["trialDesign"] = "https://schema.org/RandomizedTrial"
    elif study.design in _OBSERVATIONAL and study.subjects == "people":
        entity["@type"] = "MedicalObservationalStudy"
        entity["studyDesign"] = _OBSERVATIONAL[study.design]
    entity["status"] = (
        "https://schema.org/ResultsAvailable"
        if study.status == "published"
        else "https://schema.org/ResultsNotAvailable"
    )
    entity["description"] = study.key_finding
    registry = next((r.get("registry") for r in sources if r.get("registry")), "")
    if registry:
        entity["identifier"] = {
            "@type": "PropertyValue",
            "propertyID": "registry",
            "value": registry,
        }
    if sources:
        entity["citation"] = [article(r, "", ()) for r in sources]
    return entity


def study_page(
    study: Study,
    config: SiteConfig,
    urls: Urls,
    references: Mapping[str, Reference],
    conditions: Mapping[str, Condition],
) -> JsonObject:
    """Our page (a MedicalWebPage) and the study it is about, linked in one graph."""
    page = _page(
        "MedicalWebPage",
        urls.study(study.slug),
        study.title,
        study.key_finding,
        study.review,
        config,
        urls,
    )
    about = [_condition(conditions[slug], urls) for slug in study.conditions if slug in conditions]
    entity = {"@id": f"{page['@id']}#study", **_study_entity(study, references, about)}
    page["mainEntity"] = {"@id": entity["@id"]}
    return {"@context": CONTEXT, "@graph": [page, entity]}
