"""The ledger in the ecosystem's own standards: schema.org `ClaimReview` JSON-LD for each chapter
page (what fact-checking tools and search engines read) and an RO-Crate 1.1
`ro-crate-metadata.json` for the built site (what FAIR repositories read), each with a validator
that lists every missing required property, so the build and the tests check them offline."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pluralign.claims.assess import Assessment
from pluralign.claims.ledger import CONTRADICTED, INCONCLUSIVE, SUPPORTED, Ledger
from pluralign.data.sources import ManifestEntry, read_manifest
from pluralign.files import file_sha256
from pluralign.labels import absolute_url, book_title_and_author

SCHEMA_ORG = "https://schema.org"
#: The verdict as a schema.org Rating: 1 (false) to 3 (true); "not testable" gets no review.
RATING = {CONTRADICTED: 1, INCONCLUSIVE: 2, SUPPORTED: 3}
BEST_RATING, WORST_RATING = 3, 1
PAPER = {
    "@type": "ScholarlyArticle",
    "url": "https://arxiv.org/abs/2511.14476",
    "name": "Operationalizing Pluralistic Values in Large Language Model Alignment Reveals "
    "Trade-offs in Safety, Inclusivity, and Model Behavior",
}
PAPER_AUTHORS = ("Ali", "Zhao", "Koenecke", "Papakyriakopoulos")
#: Who made a claim, by the ledger's source id.
CLAIM_AUTHORS: dict[str, Any] = {
    "paper-abstract": [
        {"@type": "Person", "familyName": name, "name": name} for name in PAPER_AUTHORS
    ],
    "third-party-summary": {
        "@type": "Organization",
        "name": "A widely copied third-party summary of arXiv:2511.14476 (not its authors)",
    },
    "original-paper": {
        "@type": "Organization",
        "name": "The authors of the rating dataset's own paper (named in the claim's reliability)",
    },
}

RO_CRATE_CONTEXT = "https://w3id.org/ro/crate/1.1/context"
RO_CRATE_PROFILE = "https://w3id.org/ro/crate/1.1"
RO_CRATE_FILE = "ro-crate-metadata.json"
#: Licences of what the site publishes: the text and figures under CC BY 4.0, the code under MIT.
CONTENT_LICENCE = "https://creativecommons.org/licenses/by/4.0/"
CODE_LICENCE = "https://opensource.org/licenses/MIT"


def book_author() -> dict[str, str]:
    """The book's author as a schema.org Organization (`_config.yml`'s author)."""
    return {"@type": "Organization", "name": book_title_and_author()[1]}


def claim_reviews(
    ledger: Ledger,
    assessments: Iterable[Assessment],
    chapter: str,
    published: date,
    base_url: str | None = None,
) -> list[dict[str, Any]]:
    """One `ClaimReview` per claim × dataset that `chapter` decides (not-testable cells have no
    verdict to publish). Simulated data is a pipeline check, and the rating's name says so."""
    claims = {claim.id: claim for claim in ledger.claims}
    reviews = []
    for assessment in assessments:
        if assessment.chapter != chapter or not assessment.in_build:
            continue
        if assessment.verdict not in RATING or assessment.url is None:
            continue
        claim = claims[assessment.claim]
        verdict = assessment.verdict
        name = (
            f"{verdict} (simulated raters: a pipeline check, not evidence about people)"
            if assessment.simulated
            else verdict
        )
        reviews.append(
            {
                "@context": SCHEMA_ORG,
                "@type": "ClaimReview",
                "@id": f"{assessment.page}#claimreview-{assessment.claim}-{assessment.dataset}",
                "url": absolute_url(assessment.url, base_url),
                "name": f"{claim.id} on {assessment.dataset}: {verdict}",
                "claimReviewed": claim.statement,
                "itemReviewed": {
                    "@type": "Claim",
                    "author": CLAIM_AUTHORS.get(claim.source, book_author()),
                    "appearance": PAPER if claim.source != "this-study" else book_author(),
                    "name": claim.id,
                },
                "reviewRating": {
                    "@type": "Rating",
                    "ratingValue": RATING[verdict],
                    "bestRating": BEST_RATING,
                    "worstRating": WORST_RATING,
                    "alternateName": name,
                },
                "reviewBody": assessment.reason,
                "author": book_author(),
                "datePublished": published.isoformat(),
            }
        )
    return reviews


def _is_date(value: Any) -> bool:
    try:
        datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return True


def _named(value: Any) -> bool:
    """An author: a typed entity with a name, or a list of them."""
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(
        isinstance(item, Mapping) and item.get("@type") and item.get("name") for item in items
    )


def claim_review_problems(review: Mapping[str, Any]) -> list[str]:
    """What a ClaimReview lacks of the properties schema.org and the fact-check readers require:
    claimReviewed, itemReviewed (a Claim with author and appearance), reviewRating (a Rating with
    ratingValue within worstRating..bestRating and alternateName), url, author, datePublished."""
    where = str(review.get("name") or review.get("@id") or "ClaimReview")
    problems = []

    def need(condition: bool, text: str) -> None:
        if not condition:
            problems.append(f"{where}: {text}")

    need(review.get("@context") in (SCHEMA_ORG, SCHEMA_ORG + "/"), "@context is not schema.org")
    need(review.get("@type") == "ClaimReview", "@type is not ClaimReview")
    need(
        isinstance(review.get("claimReviewed"), str) and bool(review["claimReviewed"]),
        "no claimReviewed text",
    )
    need(isinstance(review.get("url"), str) and bool(review.get("url")), "no url")
    need(_named(review.get("author")), "author lacks @type or name")
    need(_is_date(review.get("datePublished")), "datePublished is not an ISO 8601 date")
    item = review.get("itemReviewed")
    if not isinstance(item, Mapping) or item.get("@type") != "Claim":
        problems.append(f"{where}: itemReviewed is not a Claim")
    else:
        need(_named(item.get("author")), "itemReviewed.author lacks @type or name")
        appearance = item.get("appearance")
        need(
            isinstance(appearance, Mapping)
            and bool(appearance.get("url") or appearance.get("name")),
            "itemReviewed.appearance has no url or name",
        )
    rating = review.get("reviewRating")
    if not isinstance(rating, Mapping) or rating.get("@type") != "Rating":
        problems.append(f"{where}: reviewRating is not a Rating")
    else:
        numbers = [rating.get(key) for key in ("worstRating", "ratingValue", "bestRating")]
        if all(isinstance(number, int | float) for number in numbers):
            need(numbers[0] <= numbers[1] <= numbers[2], "ratingValue outside worst..best")
        else:
            problems.append(f"{where}: ratingValue, bestRating or worstRating is not a number")
        need(
            isinstance(rating.get("alternateName"), str) and bool(rating.get("alternateName")),
            "reviewRating has no alternateName (the verdict in words)",
        )
    return problems


def json_ld_script(reviews: list[dict[str, Any]]) -> str:
    """The `<script type="application/ld+json">` element a page embeds."""
    text = json.dumps(reviews, indent=1, ensure_ascii=False).replace("</", "<\\/")
    return f'<script type="application/ld+json">\n{text}\n</script>'


def _file_entity(html_dir: Path, relative: str, licence: str, **extra: Any) -> dict[str, Any]:
    path = html_dir / relative
    return {
        "@id": relative,
        "@type": "File",
        "name": path.name,
        "encodingFormat": mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        "contentSize": str(path.stat().st_size),
        "sha256": file_sha256(path),
        "license": {"@id": licence},
        **extra,
    }


def manifest_files(dataset: str, manifest: list[ManifestEntry]) -> list[ManifestEntry]:
    """The manifest's files of a dataset name (`sap2022-large` -> sap2022's largeScale.csv)."""
    family, _, variant = dataset.partition("-")
    files = [entry for entry in manifest if entry.source.split("_")[0] == family]
    narrowed = [entry for entry in files if variant and variant.lower() in entry.file.lower()]
    return narrowed or files


def ro_crate(
    html_dir: Path,
    commit: Mapping[str, Any],
    version: str,
    datasets: Mapping[str, str | None],
    run_store: Mapping[str, Any] | None,
    published: date,
    base_url: str | None = None,
) -> dict[str, Any]:
    """The RO-Crate 1.1 metadata of the built site: the book's pages, figures, tables and JSON
    files as File entities (sha256, licence), the external datasets the build read (source URL,
    sha256, licence from data/MANIFEST), the run store (its digest), and the software."""
    files: list[dict[str, Any]] = []
    for relative in ("index.html", "claims.json", "claims.schema.json"):
        if (html_dir / relative).is_file():
            files.append(_file_entity(html_dir, relative, CONTENT_LICENCE))
    for page in sorted((html_dir / "chapters").glob("*.html")):
        files.append(_file_entity(html_dir, f"chapters/{page.name}", CONTENT_LICENCE))
    for folder in ("figures", "tables"):
        for path in sorted((html_dir / folder).glob("*")) if (html_dir / folder).is_dir() else []:
            files.append(
                _file_entity(
                    html_dir, f"{folder}/{path.name}", CONTENT_LICENCE, about={"@id": "./"}
                )
            )
    manifest = read_manifest()
    external: list[dict[str, Any]] = []
    for name, digest in sorted(datasets.items()):
        entries = manifest_files(name, manifest)
        external.append(
            {
                "@id": f"#dataset-{name}",
                "@type": "Dataset",
                "name": name,
                "description": "external rating data read by the build; not redistributed"
                if entries
                else "data generated or shipped by this project",
                "sha256": digest,
                "distribution": [{"@id": entry.url} for entry in entries],
                "license": entries[0].licence if entries else "see data/README.md",
            }
        )
        for entry in entries:
            external.append(
                {
                    "@id": entry.url,
                    "@type": "DataDownload",
                    "name": f"{entry.source}/{entry.file}",
                    "sha256": entry.sha256,
                    "contentSize": str(entry.bytes),
                    "license": entry.licence,
                }
            )
    software = {
        "@id": "#pluralign",
        "@type": "SoftwareApplication",
        "name": "pluralign",
        "version": version,
        "identifier": commit.get("sha"),
        "license": {"@id": CODE_LICENCE},
    }
    root = {
        "@id": "./",
        "@type": "Dataset",
        "name": book_title_and_author()[0],
        "description": "A reproducible re-run of arXiv:2511.14476 as a Jupyter Book: every claim "
        "beside the evidence that supports or contradicts it, with the figures, tables and "
        "claims ledger as files.",
        "datePublished": published.isoformat(),
        "license": {"@id": CONTENT_LICENCE},
        "author": {"@id": "#authors"},
        "version": commit.get("sha") or version,
        "hasPart": [{"@id": entity["@id"]} for entity in files],
        "mentions": [{"@id": entity["@id"]} for entity in external if entity["@type"] == "Dataset"],
        "isBasedOn": {"@id": PAPER["url"]},
    }
    if base_url:
        root["url"] = base_url
    graph: list[dict[str, Any]] = [
        {
            "@id": RO_CRATE_FILE,
            "@type": "CreativeWork",
            "conformsTo": {"@id": RO_CRATE_PROFILE},
            "about": {"@id": "./"},
        },
        root,
        *files,
        *external,
        software,
        {
            "@id": "#build",
            "@type": "CreateAction",
            "name": "pluralign book",
            "instrument": {"@id": "#pluralign"},
            "result": {"@id": "./"},
            "object": [{"@id": entity["@id"]} for entity in external]
            + ([{"@id": "#run-store"}] if run_store else []),
        },
        {"@id": "#authors", "@type": "Organization", "name": book_title_and_author()[1]},
        {"@id": CONTENT_LICENCE, "@type": "CreativeWork", "name": "CC BY 4.0"},
        {"@id": CODE_LICENCE, "@type": "CreativeWork", "name": "MIT"},
        {"@id": PAPER["url"], "@type": "ScholarlyArticle", "name": PAPER["name"]},
    ]
    if run_store:
        graph.append(
            {"@id": "#run-store", "@type": "Dataset", "name": "the run store", **run_store}
        )
    return {"@context": RO_CRATE_CONTEXT, "@graph": graph}


def ro_crate_problems(crate: Mapping[str, Any], html_dir: Path | None = None) -> list[str]:
    """What an RO-Crate lacks of the RO-Crate 1.1 profile's requirements: the 1.1 context; a flat
    @graph of entities with @id and @type and unique ids; the metadata descriptor (CreativeWork,
    conformsTo 1.1, about the root); a root Dataset whose @id ends in "/" with name, description,
    an ISO 8601 datePublished and a license; every hasPart entity present, and each File with a
    sha256 and a license (and, given the site folder, a file there with that sha256)."""
    problems = []
    if crate.get("@context") != RO_CRATE_CONTEXT:
        problems.append(f"@context is not {RO_CRATE_CONTEXT}")
    graph = crate.get("@graph")
    if not isinstance(graph, list):
        return [*problems, "@graph is not a list"]
    by_id: dict[str, Mapping[str, Any]] = {}
    for entity in graph:
        if not isinstance(entity, Mapping) or "@id" not in entity or "@type" not in entity:
            problems.append(f"entity without @id or @type: {str(entity)[:80]}")
            continue
        if entity["@id"] in by_id:
            problems.append(f"duplicate @id {entity['@id']}")
        by_id[entity["@id"]] = entity
    descriptor = by_id.get(RO_CRATE_FILE)
    if descriptor is None:
        return [*problems, f"no metadata descriptor {RO_CRATE_FILE}"]
    if descriptor.get("@type") != "CreativeWork":
        problems.append("the metadata descriptor is not a CreativeWork")
    if not str((descriptor.get("conformsTo") or {}).get("@id", "")).startswith(RO_CRATE_PROFILE):
        problems.append(f"the metadata descriptor does not conform to {RO_CRATE_PROFILE}")
    root_id = (descriptor.get("about") or {}).get("@id")
    root = by_id.get(root_id) if root_id else None
    if root is None:
        return [*problems, "the descriptor is not about an entity of the graph"]
    types = root["@type"] if isinstance(root["@type"], list) else [root["@type"]]
    if "Dataset" not in types:
        problems.append("the root data entity is not a Dataset")
    if not str(root_id).endswith("/"):
        problems.append("the root data entity's @id does not end in /")
    for key in ("name", "description", "license"):
        if not root.get(key):
            problems.append(f"the root data entity has no {key}")
    if not _is_date(root.get("datePublished")):
        problems.append("the root data entity's datePublished is not ISO 8601")
    for part in root.get("hasPart", []):
        entity = by_id.get(part.get("@id"))
        if entity is None:
            problems.append(f"hasPart {part.get('@id')} is not in the graph")
            continue
        if entity["@type"] != "File":
            continue
        if not entity.get("license") and not root.get("license"):
            problems.append(f"{entity['@id']}: no license")
        digest = entity.get("sha256")
        if not isinstance(digest, str) or len(digest) != 64:
            problems.append(f"{entity['@id']}: no sha256")
        elif html_dir is not None:
            path = html_dir / entity["@id"]
            if not path.is_file():
                problems.append(f"{entity['@id']}: no such file in the site")
            elif file_sha256(path) != digest:
                problems.append(f"{entity['@id']}: sha256 does not match the file")
    for entity in graph:
        for value in entity.values() if isinstance(entity, Mapping) else []:
            for reference in value if isinstance(value, list) else [value]:
                if isinstance(reference, Mapping) and set(reference) == {"@id"}:
                    target = str(reference["@id"])
                    if target.startswith("#") and target not in by_id:
                        problems.append(f"{entity['@id']} refers to {target}, not in the graph")
    return problems
